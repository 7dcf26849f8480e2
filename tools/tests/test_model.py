import numpy as np
import torch

from tools.diad import schedule
from tools.diad.config import get_config
from tools.diad.model import DiAD, perturb_zero_inits


def test_ddim_timesteps_match_the_bundle_contract():
    assert schedule.ddim_timesteps(999, 10) == [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]
    assert schedule.ddim_timesteps(499, 5) == [401, 301, 201, 101, 1]


def test_scaled_linear_betas_endpoints():
    b = schedule.betas("scaled_linear", 0.00085, 0.012, 1000)
    assert abs(b[0] - 0.00085) < 1e-12 and abs(b[-1] - 0.012) < 1e-12
    assert abs(np.sqrt(b[1]) - (np.sqrt(0.00085) + (np.sqrt(0.012) - np.sqrt(0.00085)) / 999)) < 1e-12


def test_zero_initialised_sg_leaves_the_unet_output_unchanged():
    torch.manual_seed(0)
    m = DiAD(get_config("micro")).eval()
    z = torch.randn(2, 4, 16, 16)
    t = torch.tensor([10, 900])
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(m.eps(z, t, x, use_control=True), m.eps(z, t, x, use_control=False))


def test_sg_connection_reaches_eps_once_trained():
    torch.manual_seed(0)
    m = DiAD(get_config("micro")).eval()
    perturb_zero_inits(m, 0, std=0.2)
    z, t, x = torch.randn(1, 4, 16, 16), torch.tensor([500]), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        a = m.eps(z, t, x)
        b = m.eps(z, t, x + 1.0)
    assert not torch.allclose(a, b)


def test_reconstruct_records_every_intermediate():
    m = DiAD(get_config("micro")).eval()
    trace = {}
    x = torch.randn(1, 3, 128, 128)
    r = m.reconstruct(x, torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16), 999, 5, trace=trace)
    assert r.shape == x.shape
    assert {"mean", "logvar", "z0", "zS", "recon"} <= set(trace)
    assert all(f"eps_{k}" in trace and f"z_{k}" in trace for k in range(5))


def test_diffusion_loss_draws_timesteps_below_t_max_only(monkeypatch):
    torch.manual_seed(0)
    model = DiAD(get_config("micro"))
    seen = []
    original = model.q_sample

    def spy(z0, t, noise):
        seen.append(t.clone())
        return original(z0, t, noise)

    monkeypatch.setattr(model, "q_sample", spy)
    z0 = torch.zeros(64, 4, 16, 16)
    hint = torch.zeros(64, 3, 128, 128)
    with torch.no_grad():
        model.diffusion_loss(z0, hint, generator=torch.Generator().manual_seed(1), t_max=50)
        model.diffusion_loss(z0, hint, generator=torch.Generator().manual_seed(1))
    assert int(seen[0].max()) < 50
    assert int(seen[1].max()) >= 50  # 64 uniform draws over 1000 steps: all below 50 has odds ~1e-83


def test_diffusion_loss_rejects_a_t_max_outside_the_schedule():
    model = DiAD(get_config("micro"))
    for bad in (-1, 1001):
        try:
            model.diffusion_loss(torch.zeros(1, 4, 16, 16), torch.zeros(1, 3, 128, 128), t_max=bad)
        except ValueError as e:
            assert "t_max" in str(e)
        else:
            raise AssertionError(f"t_max={bad} was accepted")
