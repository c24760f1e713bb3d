//! Deterministic synthetic population of Moselle-Est (France) and Saarland (Germany).
