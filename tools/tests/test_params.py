import pytest
import torch

from tools.diad.config import get_config
from tools.diad.layers import count_params, meta_device
from tools.diad.model import DiAD


@pytest.fixture(scope="module")
def paper():
    with meta_device():
        return DiAD(get_config("paper"), context=torch.zeros(1, 77, 768))


def within(value, target, tol=0.01):
    return abs(value - target) <= tol * target


def test_paper_unet_has_859m_parameters(paper):
    assert within(count_params(paper.unet), 859e6)


def test_paper_sg_network_has_471m_parameters(paper):
    assert within(count_params(paper.control_model), 471e6)


def test_paper_autoencoder_has_83_7m_parameters(paper):
    assert within(count_params(paper.first_stage_model), 83.7e6)


def test_paper_sff_block_shapes(paper):
    sg = paper.control_model
    assert tuple(sg.down11[0].weight.shape) == (1280, 640, 3, 3)
    assert tuple(sg.down33[0].weight.shape) == (1280, 1280, 3, 3)
    assert tuple(sg.input_hint_block[14].weight.shape) == (320, 256, 3, 3)
    assert len(sg.zero_convs) == 12


def test_unknown_config_is_rejected():
    with pytest.raises(ValueError, match="config"):
        get_config("huge")
