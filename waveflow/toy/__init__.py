"""2-D toy densities (two moons, checkerboard) for NICE and RealNVP: the tutorial pictures."""
