"""The encoder-predictor-decoder controller shared by SemiNAS and NAO."""

from seminas.controller.model import Controller, ControllerShape
from seminas.controller.trainer import ControllerTrainer, TrainConfig

__all__ = ["Controller", "ControllerShape", "ControllerTrainer", "TrainConfig"]
