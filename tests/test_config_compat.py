"""A study made before seminas gained an option is not refused for it: a setting missing from
the stored config counts as its default; set to anything else, it is a difference."""

import copy

from seminas.registry import evaluator_spec
from seminas.strategies import make_strategy
from seminas.study.study import config_differences, make_config


def _config(**options):
    strategy = make_strategy("weaknas", "nb201", **options)
    return make_config(strategy, evaluator_spec("nb101", dataset="official"), 50, 0)


def test_options_added_later_are_their_defaults():
    given = _config()
    old = copy.deepcopy(given)
    for name in ("pseudo_labels", "upsample", "pseudo_keep"):
        del old["options"][name]  # the study predates these options
    del old["evaluator"]["dataset"]
    assert config_differences(old, given) == []
    changed = _config(pseudo_labels=1000)
    assert config_differences(old, changed) == [
        "options.pseudo_labels (unset) in the study, 1000 now"
    ]
    subset = copy.deepcopy(given)
    subset["evaluator"]["dataset"] = "subset-20k"
    assert config_differences(old, subset) == [
        'evaluator.dataset (unset) in the study, "subset-20k" now'
    ]
