// Builds the precompiled header test/pch.hpp (CMakeLists.txt: larimar_test_pch); nothing of its own.
