import numpy as np
import pytest
import torch

from tools.diad.scoring import blur, calibrate, check_scoring, image_score, layer_distance, raw_map


def test_layer_distance_is_one_minus_cosine():
    a = torch.tensor([[[[1.0]], [[0.0]]]])
    b = torch.tensor([[[[1.0]], [[1.0]]]])
    assert abs(float(layer_distance(a, b)) - (1 - 1 / np.sqrt(2))) < 1e-6
    zero = torch.zeros(1, 2, 1, 1)
    assert float(layer_distance(zero, zero)) == 1.0  # eps floor: 0 / 1e-8


def test_raw_map_upsamples_with_align_corners_and_sums_layers():
    f = torch.zeros(1, 1, 2, 2)
    g = torch.zeros(1, 1, 2, 2)
    f[0, 0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    g[0, 0] = torch.tensor([[1.0, -1.0], [1.0, 1.0]])  # distance 0 except top-right = 2
    m = raw_map([f, f], [g, g], 3).numpy()[0]
    assert abs(m[0, 2] - 4.0) < 1e-6 and abs(m[0, 1] - 2.0) < 1e-6 and abs(m[2, 0]) < 1e-6


def test_image_score_pools_then_takes_the_max():
    m = np.zeros((10, 10))
    m[0, 0] = 9.0
    assert abs(image_score(m, kernel=3, rounds=1) - 1.0) < 1e-12
    assert abs(image_score(np.ones((20, 20)), 8, 2) - 1.0) < 1e-12


def test_blur_preserves_a_constant_map():
    np.testing.assert_allclose(blur(np.full((1, 16, 16), 0.3)), 0.3, atol=1e-12)


def test_calibration_thresholds_come_from_normal_scores():
    cal = calibrate(np.array([1.0, 2.0, 3.0, 4.0]), [np.zeros((4, 4)), np.ones((4, 4))])
    assert cal["normalScores"]["count"] == 4 and cal["normalScores"]["max"] == 4.0
    assert cal["imageThreshold"] >= cal["normalScores"]["p99"]
    assert 0.0 <= cal["pixelThreshold"] <= 1.0


def test_check_scoring_names_the_option_of_the_first_bad_value():
    check_scoring(5, 8, 8)
    check_scoring(0.5, 1, 0)
    for args, option in (((0, 8, 8), "--sigma"), ((5, 0, 8), "--pool-kernel"), ((5, 8, -1), "--pool-rounds"),
                         ((5, 2.5, 8), "--pool-kernel"), ((float("nan"), 8, 8), "--sigma")):  # fmt: skip
        with pytest.raises(ValueError, match=f"^{option}: expected"):
            check_scoring(*args)
