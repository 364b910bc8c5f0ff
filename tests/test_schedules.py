"""Learning-rate schedules at known epochs, and the adaptive rules' decisions."""

import math
import pickle

import pytest

from fastgd import schedules as sch


@pytest.mark.parametrize(
    "schedule, expected",
    [
        (sch.Constant(0.1), [0.1, 0.1, 0.1, 0.1]),
        (sch.StepDecay(1.0, step_size=2, gamma=0.5), [1.0, 1.0, 0.5, 0.5, 0.25]),
        (sch.ExponentialDecay(2.0, gamma=0.5), [2.0, 1.0, 0.5, 0.25]),
        (sch.CosineDecay(1.0, t_max=4, eta_min=0.0), [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0, 0.0]),
        (sch.InverseScaling(1.0, power_t=0.5), [1.0, 1 / math.sqrt(2), 1 / math.sqrt(3), 0.5]),
        (sch.Warmup(sch.Constant(1.0), warmup_epochs=4, start_factor=0.2), [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]),
        (sch.Warmup(sch.StepDecay(1.0, 1, 0.5), warmup_epochs=2, start_factor=0.5), [0.5, 0.75, 1.0, 0.5, 0.25]),
    ],
    ids=repr,
)
def test_schedule_values(schedule, expected):
    assert [schedule(t) for t in range(len(expected))] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_schedules_are_picklable_and_comparable():
    schedule = sch.Warmup(sch.CosineDecay(0.1, 10), 3)
    assert pickle.loads(pickle.dumps(schedule)) == schedule
    assert repr(schedule) == "Warmup(schedule=CosineDecay(lr=0.1, t_max=10, eta_min=0.0), warmup_epochs=3, start_factor=0.1)"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: sch.Constant(-1.0), r"'lr' parameter of Constant must be a float in the range \(0, inf\); got -1.0"),
        (lambda: sch.StepDecay(0.1, 0), r"'step_size' parameter of StepDecay must be an int in the range \[1, inf\); got 0"),
        (lambda: sch.CosineDecay(0.1, 2.5), r"'t_max' parameter of CosineDecay must be an int .* got 2.5"),
        (lambda: sch.ReduceLROnPlateau(0.1, factor=1.0), r"'factor' parameter .* \(0, 1\); got 1.0"),
        (lambda: sch.ReduceLROnPlateau(0.1, threshold_mode="relative"), r"'threshold_mode' .* one of 'rel', 'abs'"),
        (lambda: sch.BoldDriver(0.1, increase=0.9), r"'increase' parameter of BoldDriver .* \[1, inf\)"),
        (lambda: sch.ArmijoLineSearch(max_backtracks=0), r"'max_backtracks' parameter of ArmijoLineSearch"),
        (lambda: sch.as_schedule("fast"), "a schedule must be"),
    ],
)
def test_invalid_schedules(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_schedule_parameters_are_checked_on_assignment():
    schedule = sch.ExponentialDecay(0.1, 0.9)
    with pytest.raises(ValueError, match="'gamma' parameter of ExponentialDecay"):
        schedule.gamma = -2.0
    assert schedule.gamma == 0.9


def test_armijo_gives_up_after_max_backtracks():
    rule = sch.ArmijoLineSearch(lr=1.0, max_backtracks=3, min_lr=1e-30)
    rule.start()
    assert [rule.backtrack() for _ in range(4)] == [0.5, 0.25, 0.125, None]


def test_schedule_refuses_a_negative_epoch():
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        sch.Constant(0.1)(-1)


def test_reduce_on_plateau_follows_pytorch():
    """patience=2: the rate falls after the third epoch without a relative improvement of 1e-4."""
    rule = sch.ReduceLROnPlateau(1.0, factor=0.5, patience=2, threshold=1e-4)
    assert rule.start() == 1.0
    rates = [rule.observe(loss).lr for loss in [1.0, 0.5, 0.49999, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4]]
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_reduce_on_plateau_with_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.3, patience=1, cooldown=1, min_lr=0.05)
    rule = sch.ReduceLROnPlateau(1.0, factor=0.3, patience=1, cooldown=1, min_lr=0.05)
    for loss in losses:
        reference.step(loss)
        assert rule.observe(loss).lr == pytest.approx(optimizer.param_groups[0]["lr"])


def test_reduce_on_plateau_reports_its_floor():
    rule = sch.ReduceLROnPlateau(1.0, factor=0.1, patience=0, min_lr=0.01)
    decisions = [rule.observe(1.0) for _ in range(4)]
    assert [d.lr for d in decisions] == pytest.approx([1.0, 0.1, 0.01, 0.01])
    assert [d.at_floor for d in decisions] == [False, False, True, True]


def test_scikit_learn_adaptive_is_a_setting_of_reduce_on_plateau():
    """scikit-learn's 'adaptive': divide by 5 once n_iter_no_change epochs fail to improve by tol."""
    rule = sch.ReduceLROnPlateau(0.1, factor=0.2, patience=4, threshold=1e-3, threshold_mode="abs")
    rates = [rule.observe(loss).lr for loss in [1.0] + [0.9995] * 5]
    assert rates == pytest.approx([0.1] * 5 + [0.02])


def test_bold_driver_grows_and_undoes():
    rule = sch.BoldDriver(1.0, increase=1.1, decrease=0.5)
    assert rule.start() == 1.0
    falling = rule.observe(1.0)
    assert falling.lr == pytest.approx(1.1) and not falling.undo
    rising = rule.observe(2.0)
    assert rising.lr == pytest.approx(0.55) and rising.undo


def test_armijo_condition():
    rule = sch.ArmijoLineSearch(lr=1.0, c=0.5)
    assert rule.accepts(loss_before=1.0, loss_after=0.4, grad_norm_sq=1.0, step=1.0)
    assert not rule.accepts(loss_before=1.0, loss_after=0.6, grad_norm_sq=1.0, step=1.0)
    assert rule.backtrack() == 0.5
