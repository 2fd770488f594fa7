"""The formulas of class_weights and pos_weight: the published CamVid reference, hand-computed values,
scikit-learn parity, scale invariance, huge counts and properties against numpy (the options around a
scheme: test_weight_options.py)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastweights.model.weights import SCHEMES, class_weights, pos_weight

# Small example used by the hand-computed tests: N = 1000, f = [0.6, 0.3, 0.1], K = 3,
# class 3 absent.
PIXELS = np.array([600, 300, 100, 0], dtype=np.uint64)
# freq = n / image_pixels = [0.6, 0.5, 0.25]; median 0.5.
IMAGE_PIXELS = np.array([1000, 600, 400, 200], dtype=np.uint64)

# CamVid (SegNet split): 367 training images of 480x360, classes 0..11.
# fmt: off
CAMVID_PIXELS = np.array(
    [10682767, 14750079, 623349, 20076880, 2845085, 6166762,
     743859, 714595, 3719877, 405385, 184967, 2503995],
    dtype=np.uint64,
)
# fmt: on
CAMVID_IMAGES = np.array([366, 365, 366, 367, 349, 319, 351, 173, 360, 317, 201, 367])
CAMVID_IMAGE_PIXELS = (CAMVID_IMAGES * 480 * 360).astype(np.uint64)


def weights(scheme, pixels=PIXELS, image_pixels=IMAGE_PIXELS, **kwargs):
    return class_weights(pixels, image_pixels, scheme, **kwargs)


# --- published reference -------------------------------------------------------------------


def test_camvid_median_frequency_matches_segnet():
    w = class_weights(CAMVID_PIXELS, CAMVID_IMAGE_PIXELS, "median")
    # fmt: off
    expected = [0.2565, 0.1853, 4.3963, 0.1369, 0.9185, 0.3873,
                3.5331, 1.8127, 0.7246, 5.8550, 8.1365, 1.0974]
    # fmt: on
    np.testing.assert_array_less(np.abs(w - expected), 5e-5)
    assert w.dtype == np.float64


def test_camvid_median_is_not_half_the_mean():
    w = class_weights(CAMVID_PIXELS, CAMVID_IMAGE_PIXELS, "median")
    half_mean_variant = [0.2557, 0.1847, 4.3815]
    assert all(round(float(a), 4) != b for a, b in zip(w[:3], half_mean_variant))


# --- hand-computed values, one per scheme --------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "params", "expected"),
    [
        # N / n_c = 1000 / [600, 300, 100]
        ("inverse", {}, [5 / 3, 10 / 3, 10.0, 0.0]),
        # N / (3 n_c) = 1000 / [1800, 900, 300]
        ("balanced", {}, [5 / 9, 10 / 9, 10 / 3, 0.0]),
        # 0.5 / [0.6, 0.5, 0.25]
        ("median", {}, [5 / 6, 1.0, 2.0, 0.0]),
        # 1 / ln(1.02 + f): ln 1.62 = 0.482426, ln 1.32 = 0.277632, ln 1.12 = 0.113329
        ("enet", {}, [2.0728561, 3.6018937, 8.8238913, 0.0]),
        # 1 / ln(1.10 + f): ln 1.70 = 0.530628, ln 1.40 = 0.336472, ln 1.20 = 0.182322
        ("enet", {"k": 1.10}, [1.8845585, 2.9720134, 5.4848149, 0.0]),
        # 1 / sqrt([0.6, 0.3, 0.1])
        ("sqrt", {}, [1.2909944, 1.8257419, 3.1622777, 0.0]),
        # ln(1 / [0.6, 0.3, 0.1])
        ("log", {}, [0.5108256, 1.2039728, 2.3025851, 0.0]),
        # max(1, ln(0.15 / f)): ln 0.25, ln 0.5, ln 1.5 = 0.405 all below 1
        ("log", {"mu": 0.15}, [1.0, 1.0, 1.0, 0.0]),
    ],
)
def test_hand_computed(scheme, params, expected):
    np.testing.assert_allclose(weights(scheme, **params), expected, rtol=1e-7)


def test_log_with_mu_hand_computed():
    # N = 1000; ln(0.15 * 1000 / 990) = ln 0.1515 < 1 -> 1; ln(0.15 * 100) = ln 15 = 2.7080502
    np.testing.assert_allclose(class_weights([990, 10], None, "log", mu=0.15), [1.0, 2.7080502], rtol=1e-7)


def test_effective_hand_computed_explicit_beta():
    # beta = 0.5: (0.5) / (1 - 0.25) = 2/3 and 0.5 / 0.5 = 1; sum 5/3, scaled to K = 2 by 6/5
    np.testing.assert_allclose(class_weights([2, 1, 0], None, "effective", beta=0.5), [0.8, 1.2, 0.0], rtol=1e-12)


def test_effective_hand_computed_default_beta():
    # N = 4, beta = 3/4: 0.25 / (1 - 27/64) = 16/37 and 0.25 / 0.25 = 1; sum 53/37;
    # scaled to K = 2: 32/53 and 74/53
    np.testing.assert_allclose(class_weights([3, 1, 0], None, "effective"), [32 / 53, 74 / 53, 0.0], rtol=1e-12)


def test_effective_beta_zero_is_uniform():
    np.testing.assert_array_equal(weights("effective", beta=0.0), [1.0, 1.0, 1.0, 0.0])


def test_schemes_describe_every_scheme():
    assert set(SCHEMES) == {"inverse", "balanced", "median", "enet", "sqrt", "effective", "log"}
    assert all(isinstance(text, str) and text for text in SCHEMES.values())


# --- scikit-learn parity -------------------------------------------------------------------


def test_balanced_matches_scikit_learn():
    utils = pytest.importorskip("sklearn.utils")
    counts = [5, 2, 0, 13, 1]
    labels = np.repeat(np.arange(len(counts)), counts)
    classes = np.unique(labels)
    expected = utils.compute_class_weight("balanced", classes=classes, y=labels)
    w = class_weights(counts, None, "balanced")
    np.testing.assert_allclose(w[classes], expected, rtol=1e-12)
    assert w[2] == 0.0


# --- scale invariance ----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["inverse", "balanced", "median", "enet", "sqrt", "log"])
@pytest.mark.parametrize("normalize", [None, "sum", "mean", "max"])
def test_scale_invariance(scheme, normalize):
    small = weights(scheme, normalize=normalize)
    large = weights(scheme, PIXELS * 1000, IMAGE_PIXELS * 1000, normalize=normalize)
    np.testing.assert_allclose(large, small, rtol=1e-12)


def test_log_with_mu_is_scale_invariant():
    small = class_weights([990, 10], None, "log", mu=0.15)
    large = class_weights([990_000, 10_000], None, "log", mu=0.15)
    np.testing.assert_allclose(large, small, rtol=1e-12)


def test_effective_default_beta_converges_under_scaling():
    # With beta = 1 - 1/N, 1 - beta**n_c -> 1 - exp(-f_c) as N grows, so the weights tend to
    # 1 / (1 - exp(-f_c)) scaled to sum K: 1 - e^-0.6 = 0.451188, 1 - e^-0.3 = 0.259182,
    # 1 - e^-0.1 = 0.095163 -> [0.400959, 0.697997, 1.901043].
    limit = [0.40095935, 0.69799733, 1.90104332, 0.0]
    np.testing.assert_allclose(weights("effective"), limit, rtol=1e-3)
    np.testing.assert_allclose(weights("effective", PIXELS * 1_000_000, None), limit, rtol=1e-6)


def test_effective_explicit_beta_is_not_scale_invariant():
    # beta**n_c depends on the absolute counts: scaled up, beta = 0.5 saturates to uniform.
    assert not np.allclose(class_weights([2, 1], None, "effective", beta=0.5), 1.0)
    np.testing.assert_allclose(class_weights([2000, 1000], None, "effective", beta=0.5), 1.0)


# --- effective: documented pitfalls --------------------------------------------------------


@pytest.mark.parametrize("beta", [0.9, 0.99, 0.999, 0.9999])
def test_effective_paper_betas_are_uniform_for_pixel_counts(beta):
    w = class_weights(CAMVID_PIXELS, None, "effective", beta=beta)
    np.testing.assert_allclose(w, 1.0, rtol=0, atol=1e-6)


def test_effective_default_beta_orders_inversely_to_counts():
    w = class_weights(CAMVID_PIXELS, None, "effective")
    assert np.ptp(w) > 1.0
    np.testing.assert_array_equal(np.argsort(w), np.argsort(CAMVID_PIXELS)[::-1])


def test_effective_beta_extremely_close_to_one():
    w = class_weights(CAMVID_PIXELS, None, "effective", beta=1 - 1e-12)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    np.testing.assert_allclose(w.sum(), 12.0)
    # n_c * (1 - beta) <= 2e-5, so 1 - beta**n_c ~ n_c (1 - beta) and w ~ 1 / n_c.
    np.testing.assert_allclose(w * CAMVID_PIXELS, (w * CAMVID_PIXELS)[0], rtol=1e-4)


# --- huge counts ---------------------------------------------------------------------------


HUGE = np.array([2**64 - 1, 2**63, 2**53 + 1, 1, 0], dtype=np.uint64)
HUGE_TOTAL = 2**64 - 1 + 2**63 + 2**53 + 1 + 1  # exact, as a Python int


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("normalize", [None, "sum", "mean", "max"])
def test_huge_counts_without_warnings(scheme, normalize):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = class_weights(HUGE, HUGE, scheme, normalize=normalize, absent="max")
    assert np.all(np.isfinite(w))
    assert np.all(w[:4] >= 0) and w[4] == w[:4].max()


def test_huge_counts_inverse_value():
    # the class with one pixel weighs N; the largest class N / (2**64 - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = class_weights(HUGE, None, "inverse")
    assert w[3] == pytest.approx(HUGE_TOTAL, rel=1e-15)
    assert w[0] == pytest.approx(HUGE_TOTAL / (2**64 - 1), rel=1e-15)


def test_huge_counts_pos_weight_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = pos_weight(HUGE)
    assert np.all(np.isfinite(w))
    # the class with one pixel has N - 1 negatives
    assert w[3] == pytest.approx(HUGE_TOTAL - 1, rel=1e-15)


# --- pos_weight ----------------------------------------------------------------------------


def test_pos_weight_binary():
    w = pos_weight([900, 100])
    assert w.shape == (1,) and w.dtype == np.float64
    np.testing.assert_array_equal(w, [9.0])


def test_pos_weight_one_vs_rest():
    # N = 1000: [400 / 600, 700 / 300, 900 / 100], class 3 has no positives
    np.testing.assert_allclose(pos_weight(PIXELS), [2 / 3, 7 / 3, 9.0, 0.0], rtol=1e-12)


def test_pos_weight_absent_policies():
    assert pos_weight(PIXELS, absent=1.0)[3] == 1.0
    assert pos_weight(PIXELS, absent="max")[3] == 9.0
    with pytest.raises(ValueError, match=r"\[3\]"):
        pos_weight(PIXELS, absent="error")


def test_pos_weight_binary_without_positives():
    np.testing.assert_array_equal(pos_weight([100, 0]), [0.0])
    np.testing.assert_array_equal(pos_weight([100, 0], absent=2.0), [2.0])
    for absent in ("max", "error"):
        with pytest.raises(ValueError, match="class 1"):
            pos_weight([100, 0], absent=absent)


def test_pos_weight_all_absent():
    np.testing.assert_array_equal(pos_weight([0, 0, 0], absent=0.5), [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="no class has any pixels"):
        pos_weight([0, 0, 0], absent="max")


def test_pos_weight_keeps_small_remainder_next_to_dominant_class():
    # N - n_0 in float64 would be 0; the two other pixels must still count
    w = pos_weight(np.array([2**60, 1, 1], dtype=np.uint64))
    assert w[0] == pytest.approx(2.0 / 2**60, rel=1e-12)


# --- properties ----------------------------------------------------------------------------


COUNT = st.one_of(st.just(0), st.integers(1, 1000), st.integers(0, 2**63))


@settings(max_examples=200, deadline=None)
@given(
    pixels=st.lists(COUNT, min_size=1, max_size=8),
    extra=st.lists(st.integers(0, 2**63 - 1), min_size=8, max_size=8),
    absent=st.sampled_from([0.0, 0.5, 3.0, "max"]),
)
def test_weights_are_always_finite(pixels, extra, absent):
    pixels = np.array(pixels, dtype=np.uint64)
    image_pixels = pixels + np.array(extra[: pixels.size], dtype=np.uint64)
    present = pixels > 0
    # ln(N / n_c) is 0 for every present class when one class holds (nearly) all pixels
    all_log_zero = present.any() and not np.any(class_weights(pixels, None, "log") > 0)
    for scheme in SCHEMES:
        for normalize in (None, "sum", "mean", "max"):
            args = (pixels, image_pixels, scheme)
            options = {"absent": absent, "normalize": normalize}
            if (absent == "max" and not present.any()) or (scheme == "log" and normalize is not None and all_log_zero):
                with pytest.raises(ValueError):
                    class_weights(*args, **options)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                w = class_weights(*args, **options)
            assert w.shape == pixels.shape and w.dtype == np.float64
            assert np.all(np.isfinite(w)), (scheme, normalize, w)
            if scheme == "log":
                assert np.all(w[present] >= 0)
            else:
                assert np.all(w[present] > 0), (scheme, normalize, w)
            fill = w[present].max() if absent == "max" else absent
            assert np.all(w[~present] == fill)


@settings(max_examples=200, deadline=None)
@given(pixels=st.lists(COUNT, min_size=1, max_size=8), absent=st.sampled_from([0.0, 2.0]))
def test_pos_weight_is_always_finite(pixels, absent):
    pixels = np.array(pixels, dtype=np.uint64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = pos_weight(pixels, absent=absent)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    if pixels.size == 2:
        assert w.shape == (1,)
    else:
        assert w.shape == pixels.shape
        assert np.all(w[pixels == 0] == absent)
