"""Weight-sharing search in the MobileNet-v2 space (SemiNAS's ImageNet experiment).

- :mod:`~seminas.supernet.model`: the supernet and standalone networks (shared weight names);
- :mod:`~seminas.supernet.train`: path-sampling training (``torch.distributed`` aware), batch-norm
  recalibration and scoring on held-out data;
- :mod:`~seminas.supernet.evaluator`: the supernet as an
  :class:`~seminas.benchmarks.base.Evaluator`;
- :mod:`~seminas.supernet.pipeline`: supernet training, SemiNAS search under a FLOPs limit and
  from-scratch training of the result, end to end.
"""
