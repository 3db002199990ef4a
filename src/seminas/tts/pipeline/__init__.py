"""The TTS pipeline: supernet -> SemiNAS on DFR -> from scratch -> measures (docs/tts.md)."""

from seminas.tts.pipeline.config import PRESETS, TTSPipelineConfig, config_from_preset
from seminas.tts.pipeline.run import run_pipeline
from seminas.tts.pipeline.store import RESULTS_JSON, RESULTS_MD

__all__ = ["PRESETS", "RESULTS_JSON", "RESULTS_MD", "TTSPipelineConfig", "config_from_preset",
           "run_pipeline"]
