// The memory alone on both storages, built with another choice of thrust device system than main.cpp.
#include "round_trip.hpp"

int main() { return report(); }
