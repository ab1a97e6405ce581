#pragma once
// Catch2 for tests that use LibTorch. c10's logging defines a glog-style CHECK macro that aborts; including
// LibTorch first and dropping that macro lets Catch's CHECK (which records and continues) win.
#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>
