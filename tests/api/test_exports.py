"""Weights where they are used: PyTorch losses and samplers, Keras, segmentation_models_pytorch,
MONAI and mmsegmentation; per-image sampling weights; estimates from a sample."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastweights
from fastweights import Counts, export
from fastweights.model.estimate import EstimatedWeights
from fastweights.model.sampling import sample_weights


@pytest.fixture
def counts() -> Counts:
    """Five classes, class 4 rare, class 3 in few images."""
    rng = np.random.default_rng(3)
    masks = [rng.choice(4, size=(16, 16), p=[0.6, 0.25, 0.1, 0.05]).astype(np.uint8) for _ in range(40)]
    for mask in masks[:4]:
        mask[:2, :2] = 4
    return fastweights.count(masks, per_image=True)


# ---- PyTorch -----------------------------------------------------------------------------------


def test_torch_weight_in_cross_entropy_is_the_weighted_mean(counts: Counts) -> None:
    torch = pytest.importorskip("torch")
    weights = counts.weights("median")
    weight = export.torch_weight(weights, device="cpu")
    assert weight.dtype == torch.float32 and weight.shape == (5,) and weight.device.type == "cpu"
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 8, 8, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 5, (3, 8, 8), generator=generator)
    loss = torch.nn.CrossEntropyLoss(weight=weight.double())(logits, target)
    # By hand: -sum_i w[y_i] log softmax(x_i)[y_i] / sum_i w[y_i]
    log_p = logits.numpy() - np.log(np.exp(logits.numpy()).sum(axis=1, keepdims=True))
    y = target.numpy()
    picked = np.take_along_axis(log_p, y[:, None], axis=1)[:, 0]
    w = weights.astype(np.float32).astype(np.float64)[y]
    assert loss.item() == pytest.approx(float(-(w * picked).sum() / w.sum()), rel=1e-12)
    nll = torch.nn.NLLLoss(weight=weight.double())(torch.log_softmax(logits, 1), target)
    assert nll.item() == pytest.approx(loss.item(), rel=1e-12)


def test_torch_pos_weight_is_shaped_for_image_targets(counts: Counts) -> None:
    torch = pytest.importorskip("torch")
    pos_weight = export.torch_pos_weight(counts, ndim=2)
    assert pos_weight.shape == (5, 1, 1)
    np.testing.assert_allclose(pos_weight[:, 0, 0].numpy(), counts.pos_weight().astype(np.float32))
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 6, 7, generator=generator, dtype=torch.float64)
    target = (torch.rand(2, 5, 6, 7, generator=generator) < 0.3).double()
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.double())(logits, target)
    x, y = logits.numpy(), target.numpy()
    p = pos_weight.double().numpy()  # (5, 1, 1): one weight per class channel
    log_sig, log_one_minus = -np.log1p(np.exp(-x)), -np.log1p(np.exp(x))
    by_hand = -(p * y * log_sig + (1 - y) * log_one_minus).mean()
    assert loss.item() == pytest.approx(float(by_hand), rel=1e-12)
    with pytest.raises(RuntimeError):  # the trap: a (C,) pos_weight lines up with the width, not C
        torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.flatten().double())(logits, target)
    assert export.torch_pos_weight([2.0], ndim=3).shape == (1, 1, 1, 1)


def test_the_sampler_draws_rare_class_images_at_the_expected_rate() -> None:
    pytest.importorskip("torch")
    per_image = np.zeros((1000, 3), np.uint64)
    per_image[:, 0] = 100
    per_image[:10, 2] = 5  # class 2 in 1 % of the images
    per_image[10:400, 1] = 50
    weights = sample_weights(per_image, "repeat_factor", t=0.1)
    assert weights[0] == pytest.approx(math.sqrt(0.1 / 0.01))
    sampler = export.torch_sampler(weights, num_samples=20000, seed=0)
    drawn = np.array(list(sampler))
    rare = np.isin(drawn, np.arange(10)).mean()
    expected = weights[:10].sum() / weights.sum()
    assert abs(rare - expected) < 4 * math.sqrt(expected * (1 - expected) / drawn.size)
    assert rare > 2 * 10 / 1000  # three times the 1 % of uniform sampling


# ---- per-image sampling weights -----------------------------------------------------------------


def test_repeat_factor_follows_lvis(counts: Counts) -> None:
    weights = counts.sample_weights("repeat_factor", t=0.2)
    holds = counts.per_image > 0
    share = holds.mean(axis=0)
    r = np.maximum(1, np.sqrt(0.2 / share))
    expected = [max(r[c] for c in np.flatnonzero(row)) for row in holds]
    np.testing.assert_allclose(weights, expected)
    assert weights.shape == (len(counts.sources),) and (weights[:4] > weights[4:].max()).all()


def test_rare_class_follows_daformer(counts: Counts) -> None:
    temperature = 0.5
    weights = counts.sample_weights("rare_class", temperature=temperature)
    f = counts.pixels / counts.pixels.sum()
    p = np.exp((1 - f) / temperature)
    p /= p.sum()
    holds = counts.per_image > 0
    expected = (holds * (p / holds.sum(axis=0))).sum(axis=1)
    np.testing.assert_allclose(weights, expected)
    assert weights.sum() == pytest.approx(1.0)
    strict = counts.sample_weights("rare_class", temperature=temperature, min_pixels=5)
    assert strict[:4].sum() > 0 and strict.sum() == pytest.approx(1.0)


def test_sample_weights_need_the_per_image_table() -> None:
    with pytest.raises(ValueError, match="per_image=True"):
        fastweights.count(np.zeros((4, 4), np.uint8)).sample_weights()
    with pytest.raises(ValueError, match="scheme='lvis'"):
        fastweights.count(np.zeros((4, 4), np.uint8), per_image=True).sample_weights("lvis")


# ---- Keras, segmentation_models_pytorch, MONAI, mmsegmentation ---------------------------------


def test_keras_class_weight_and_sample_weight_maps() -> None:
    weights = [0.5, 2.0, 4.0]
    assert export.keras_class_weight(weights) == {0: 0.5, 1: 2.0, 2: 4.0}
    weigh = export.keras_sample_weight(weights, ignore_index=[255, -1, 1])
    labels = np.array([[[0, 1], [2, 255]], [[2, -1], [1, 0]]])
    np.testing.assert_array_equal(weigh(labels), [[[0.5, 0.0], [4.0, 0.0]], [[4.0, 0.0], [0.0, 0.5]]])
    assert weigh(labels).dtype == np.float32
    np.testing.assert_array_equal(export.keras_sample_weight(weights, 255)(np.array([255, 2], np.uint8)), [0.0, 4.0])


def test_keras_sample_weight_refuses_labels_without_a_weight() -> None:
    weigh = export.keras_sample_weight([0.5, 2.0, 4.0], ignore_index=255)
    with pytest.raises(ValueError, match=r"label\(s\) -1, 3, 7 have no weight .* ignore_index=\[255\]"):
        weigh(np.array([[0, 7, 3], [-1, 255, 7]]))
    with pytest.raises(ValueError, match=r"label\(s\) 255 have no weight .* ignore_index=\[\]"):
        export.keras_sample_weight([1.0, 1.0])(np.array([0, 255], np.uint8))
    with pytest.raises(ValueError, match=r"label\(s\) -1, 1, 2, 3, 4, 5, 6, 7 \.\.\. \(10 in all\)"):
        export.keras_sample_weight([1.0])(np.arange(-1, 10))
    with pytest.raises(TypeError, match="integer labels"):
        weigh(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="ignore_index='void'"):
        export.keras_sample_weight([1.0], ignore_index="void")  # type: ignore[arg-type]


def test_keras_text_is_the_sample_weight_recipe() -> None:
    weights = np.array([0.5, 2.0, 4.0])
    text = export.keras_text(weights)
    assert "class_weight =" not in text and "tf.gather(weights, y)" in text
    y = np.array([[[0, 1], [2, 2]]])
    scope: dict[str, Any] = {"y": y}
    exec(text, scope)
    assert scope["sample_weight"].dtype == np.float32
    np.testing.assert_array_equal(scope["sample_weight"], weights[y])


def test_keras_sample_weight_inside_tf_data() -> None:
    tf = pytest.importorskip("tensorflow")
    weigh = export.keras_sample_weight([0.5, 2.0], ignore_index=255)
    dataset = tf.data.Dataset.from_tensor_slices(np.array([[0, 1, 255]])).map(weigh)
    np.testing.assert_array_equal(next(iter(dataset)).numpy(), [0.5, 2.0, 0.0])


def test_smp_class_weights_are_scale_free_as_documented(counts: Counts) -> None:
    weights = counts.weights("median")
    listed = export.smp_class_weights(weights)
    assert isinstance(listed, list) and all(isinstance(w, float) for w in listed)
    per_class_loss = np.random.default_rng(0).random(5)
    # segmentation_models_pytorch's aggregate_loss: (loss * weights).sum() / weights.sum()
    smp_loss = (per_class_loss * np.array(listed)).sum() / np.sum(listed)
    scaled = export.smp_class_weights(weights * 7.5)
    assert (per_class_loss * np.array(scaled)).sum() / np.sum(scaled) == pytest.approx(smp_loss)
    try:
        import segmentation_models_pytorch as smp
        import torch
    except ImportError:
        return  # not installable beside torch 2.13 here (its timm needs a newer torchvision)
    loss = smp.losses.DiceLoss("multiclass", class_weights=listed)
    logits, target = torch.randn(2, 5, 8, 8), torch.randint(0, 5, (2, 8, 8))
    assert torch.isfinite(loss(logits, target))


def test_monai_weights_drop_the_background_and_match_a_hand_computed_dice(counts: Counts) -> None:
    weights = counts.weights("inverse")
    without = export.monai_weights(weights, include_background=False)
    assert len(without) == 4 and np.mean(without) == pytest.approx(1.0)
    np.testing.assert_allclose(without, weights[1:] / weights[1:].mean())
    assert export.monai_weights(weights, normalize=False) == weights.tolist()
    monai = pytest.importorskip("monai")
    torch = pytest.importorskip("torch")
    loss = monai.losses.DiceLoss(include_background=False, to_onehot_y=True, softmax=True, weight=without)
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 5, 8, 8, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 5, (2, 1, 8, 8), generator=generator)
    p = torch.softmax(logits, 1).numpy()[:, 1:]
    y = np.eye(5)[target.numpy()[:, 0]].transpose(0, 3, 1, 2)[:, 1:]
    tp, fp, fn = (p * y).sum((2, 3)), (p * (1 - y)).sum((2, 3)), ((1 - p) * y).sum((2, 3))
    f = 1 - (2 * tp + 1e-5) / (2 * tp + fp + fn + 1e-5)
    by_hand = (f * np.array(without, np.float32)).mean()  # MONAI keeps the weights as float32
    assert loss(logits, target).item() == pytest.approx(float(by_hand), rel=1e-9)


def test_mmseg_class_weight_files(counts: Counts, tmp_path: Path) -> None:
    weights = counts.weights("median")
    export.mmseg_class_weight(weights, tmp_path / "w.npy")
    export.mmseg_class_weight(weights, tmp_path / "w.json")
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), weights.astype(np.float32))
    assert json.loads((tmp_path / "w.json").read_text()) == weights.tolist()
    with pytest.raises(ValueError, match=r"\.npy or a \.json"):
        export.mmseg_class_weight(weights, tmp_path / "w.txt")
    with pytest.raises(ValueError, match="finite and not negative"):
        export.smp_class_weights([1.0, float("nan")])


# ---- estimates from a sample -------------------------------------------------------------------


def blocky_population(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = [0.5, 0.25, 0.12, 0.08, 0.05]
    return [np.repeat(np.repeat(rng.choice(5, (4, 4), p=probs), 8, 0), 8, 1).astype(np.uint8) for _ in range(n)]


def test_estimate_intervals_cover_the_true_weights_about_95_percent_of_the_time() -> None:
    images = blocky_population(2000, 1)
    truth = fastweights.count(images).weights("median")
    seeds = 60
    covered = np.zeros(5)
    for seed in range(seeds):
        estimate = fastweights.count(images, num_classes=5, sample=0.05, seed=seed, threads=1).weights("median")
        covered += (estimate.low <= truth) & (truth <= estimate.high)
    rate = covered.sum() / (5 * seeds)
    assert 0.88 <= rate <= 0.995, covered / seeds  # 95 % nominal; 300 class-intervals: sd ~1.3 %
    assert (covered / seeds >= 0.8).all(), covered / seeds


def test_an_estimate_is_marked_and_its_weights_carry_intervals() -> None:
    images = blocky_population(200, 2)
    estimate = fastweights.count(images, num_classes=5, sample=20, seed=3)
    assert estimate.is_estimate and estimate.n_images == 20
    assert estimate.params["estimate"] == {"sample": 20, "population": 200, "share": 0.1, "seed": 3}
    assert estimate.per_image is not None  # kept: the bootstrap resamples it
    weights = estimate.weights("enet", normalize="mean", level=0.9)
    assert isinstance(weights, EstimatedWeights) and weights.level == 0.9
    assert (weights.low <= weights).all() and (weights <= weights.high).all()
    assert np.asarray(weights).tolist() == np.asarray(estimate.weights("enet", normalize="mean")).tolist()
    again = fastweights.count(images, num_classes=5, sample=0.1, seed=3)
    assert again.sources == estimate.sources  # the same seed draws the same inputs
    assert not fastweights.count(images).is_estimate


def test_classes_never_seen_in_the_sample_are_named() -> None:
    images = [np.zeros((4, 4), np.uint8) for _ in range(99)] + [np.full((4, 4), 2, np.uint8)]
    estimate = fastweights.count(images, sample=10, seed=0, num_classes=3)
    with pytest.warns(UserWarning, match=r"classes \[1, 2\] were never seen in the sample of 10"):
        weights = estimate.weights("inverse")
    assert weights.unseen == [1, 2] and np.isnan(weights.low[1:]).all()


@pytest.mark.parametrize("bad", [0, -1, 0.0, 1.5, "half", True])
def test_bad_samples_are_refused(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="sample="):
        fastweights.count([np.zeros((2, 2), np.uint8)] * 4, sample=bad)


def test_the_cli_estimates_with_sample(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for index, image in enumerate(blocky_population(50, 4)):
        np.save(tmp_path / f"m{index:02d}.npy", image)
    from fastweights.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["count", str(tmp_path), "--num-classes", "5", "--sample", "0.2", "--seed", "5", "-q"]) == 0
    out = capsys.readouterr().out
    assert "95 % interval" in out and "An estimate: 10 of 50 inputs (20.0%, seed 5)" in out


# ---- class names -------------------------------------------------------------------------------


@pytest.fixture
def named_counts() -> Counts:
    return fastweights.count([np.array([[0, 0, 1], [2, 2, 2]], np.uint8)], class_names=["road", "traffic light", "sky"])


def test_the_table_and_csv_show_the_counts_names_unless_given_others(named_counts: Counts) -> None:
    from fastweights.api.table import format_table

    weights = named_counts.weights("inverse")
    rows = [line.split() for line in format_table(named_counts, weights, "inverse").splitlines()]
    assert rows[2][:2] == ["0", "road"] and rows[3][:3] == ["1", "traffic", "light"] and rows[4][:2] == ["2", "sky"]
    rows = [line.split() for line in format_table(named_counts, weights, "inverse", ["a"]).splitlines()]
    assert rows[2][:2] == ["0", "a"] and rows[3][1] == "1"  # class 1 past the names given: no name
    lines = export.counts_csv(named_counts, weights).splitlines()
    assert [line.split(",")[1] for line in lines] == ["name", "road", "traffic light", "sky"]
    assert export.counts_csv(named_counts, names=()).splitlines()[1].split(",")[1] == ""


def test_json_exports_carry_the_names(named_counts: Counts) -> None:
    weights = named_counts.weights("inverse")
    data = json.loads(export.counts_json(named_counts, weights, "inverse"))
    assert data["class_names"] == ["road", "traffic light", "sky"]
    assert Counts.from_dict(data).class_names == named_counts.class_names
    data = json.loads(export.counts_json(named_counts, weights, "inverse", names=["a", "b"]))
    assert data["class_names"] == ["a", "b"] and len(data["weights"]["values"]) == 3


def test_the_chart_labels_the_classes_with_the_counts_names(named_counts: Counts, tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    from fastweights.api.plot import plot_counts

    chart = tmp_path / "chart.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text, to be read back
        plot_counts(chart, named_counts, named_counts.weights("inverse"), "inverse")
    text = chart.read_text(encoding="utf-8")
    assert "0 road" in text and "1 traffic light" in text and "2 sky" in text
