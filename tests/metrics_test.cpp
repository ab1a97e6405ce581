// Evaluation metrics on hand-made confusion cases.
#include <catch2/catch.hpp>

#include "eval/metrics.h"

using convpt::eval::ConfusionMatrix;

TEST_CASE("binary metrics on a hand-made case", "[metrics]") {
  // gold:      1 1 1 1 0 0 0 0 0 0
  // predicted: 1 1 1 0 1 1 0 0 0 0   -> TP 3, FN 1, FP 2, TN 4
  ConfusionMatrix m(2);
  const int gold[] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, predicted[] = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
  for (int i = 0; i < 10; ++i) m.add(gold[i], predicted[i]);
  CHECK(m.examples() == 10);
  CHECK(m.accuracy() == Approx(0.7));
  CHECK(m.f1(1) == Approx(2.0 * 3 / (2 * 3 + 1 + 2)));  // precision 3/5, recall 3/4 -> F1 2/3
  CHECK(m.task_f1() == Approx(2.0 / 3.0));
  CHECK(m.count(0, 1) == 2);
  CHECK(m.to_json({"non-toxic", "toxic"}) ==
        "{\"examples\": 10, \"accuracy\": 0.7, \"f1\": 0.6666666666666666, \"f1_kind\": \"binary\", "
        "\"f1_per_class\": [0.7272727272727273, 0.6666666666666666], \"labels\": [\"non-toxic\", \"toxic\"], "
        "\"confusion\": [[4, 2], [1, 3]]}");  // full precision: the table rounds once, from these
}

TEST_CASE("macro F1 for several classes, and degenerate cases", "[metrics]") {
  ConfusionMatrix m(3);
  m.add(0, 0), m.add(0, 0), m.add(1, 1), m.add(1, 2), m.add(2, 2);
  // class 0: F1 1; class 1: P 1, R 1/2 -> 2/3; class 2: P 1/2, R 1 -> 2/3
  CHECK(m.macro_f1() == Approx((1.0 + 2.0 / 3 + 2.0 / 3) / 3));
  CHECK(m.task_f1() == Approx(m.macro_f1()));
  CHECK(m.accuracy() == Approx(0.8));
  ConfusionMatrix never(2);
  never.add(0, 0);
  CHECK(never.f1(1) == 0.0);  // the positive class never occurs nor is predicted
  CHECK_THROWS_AS(m.add(3, 0), std::out_of_range);
  CHECK_THROWS_AS(ConfusionMatrix(0), std::invalid_argument);
}
