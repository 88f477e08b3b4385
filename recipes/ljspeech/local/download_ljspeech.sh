#!/usr/bin/env bash
# Download LJSpeech-1.1 (2.6 GB), verify its published SHA-256 and extract it to DB_ROOT.
#
# Usage: local/download_ljspeech.sh DB_ROOT
#
# DB_ROOT becomes the extracted corpus folder (metadata.csv, wavs/, README). Nothing is done if
# DB_ROOT/metadata.csv already exists. The archive is kept next to DB_ROOT
# (DB_ROOT.tar.bz2) so that an interrupted extraction does not download it again; an
# interrupted download is resumed. Environment: LJSPEECH_URL and LJSPEECH_SHA256 override the
# source (e.g. a local mirror). Exits non-zero, with a message saying where to put the data by
# hand, when the download fails or the checksum does not match.
set -euo pipefail

# The official URL (https://keithito.com/LJ-Speech-Dataset/); the SHA-256 is the value that
# torchaudio's LJSPEECH dataset checks (2,748,572,632 bytes).
url=${LJSPEECH_URL:-https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2}
sha256=${LJSPEECH_SHA256:-be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5}

if [ $# -ne 1 ]; then
    echo "usage: $0 DB_ROOT" >&2
    exit 2
fi
db_root=${1%/}

if [ -f "${db_root}/metadata.csv" ]; then
    echo "stage 0: ${db_root}/metadata.csv exists: LJSpeech is already in place, skipping download"
    exit 0
fi

by_hand() {
    cat >&2 <<MSG
error: $1
  Download LJSpeech-1.1 by hand from ${url}
  (2.6 GB, sha256 ${sha256}), extract it with
      tar -xjf LJSpeech-1.1.tar.bz2
  and run the recipe with --db-root /path/to/LJSpeech-1.1 (the folder holding metadata.csv
  and wavs/); stage 0 is then skipped.
MSG
    exit 1
}

archive="${db_root}.tar.bz2"
mkdir -p "$(dirname "${db_root}")"
if [ ! -f "${archive}" ]; then
    echo "stage 0: downloading ${url} to ${archive}.part"
    if command -v curl > /dev/null; then
        curl -fL --progress-bar --connect-timeout 20 --retry 2 -C - -o "${archive}.part" "${url}" \
            || by_hand "cannot download ${url} (offline or unreachable?)"
    elif command -v wget > /dev/null; then
        wget -c --timeout=20 --tries=2 -O "${archive}.part" "${url}" \
            || by_hand "cannot download ${url} (offline or unreachable?)"
    else
        by_hand "neither curl nor wget is installed"
    fi
    echo "stage 0: checking sha256"
    actual=$(sha256sum "${archive}.part" | cut -d' ' -f1)
    if [ "${actual}" != "${sha256}" ]; then
        rm -f "${archive}.part"
        by_hand "checksum mismatch for ${url}: got sha256 ${actual}, expected ${sha256}"
    fi
    mv "${archive}.part" "${archive}"
fi

echo "stage 0: extracting ${archive} to ${db_root}"
partial="${db_root}.partial"
rm -rf "${partial}"
mkdir -p "${partial}"
tar -xjf "${archive}" -C "${partial}" --strip-components=1
if [ ! -f "${partial}/metadata.csv" ]; then
    by_hand "${archive} does not contain LJSpeech-1.1/metadata.csv"
fi
if [ -d "${db_root}" ]; then
    rmdir "${db_root}" || by_hand "${db_root} exists and is not empty, but has no metadata.csv"
fi
mv "${partial}" "${db_root}"
echo "stage 0: LJSpeech-1.1 is in ${db_root} (the archive ${archive} may be deleted)"
