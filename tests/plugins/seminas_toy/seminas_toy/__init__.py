"""seminas-toy: a search space, an evaluator kind and a strategy that live outside seminas.

This module is what the entry points name, so it stays cheap to import: the space, the table
and the evaluator are named by "module:attribute" strings and imported on first use.
"""

from seminas.registry import EvaluatorEntry, SpaceEntry

SPACE = SpaceEntry(
    name="toy",
    space="seminas_toy.space:ToySpace",
    description="4 layers x 4 operations: 256 architectures with synthetic accuracies",
    table="seminas_toy.table:ToyTable",  # `--evaluator table` (the default)
    table_options={"dataset": "smooth"},  # what --dataset sets; a study stores it
    check_table_options="seminas_toy.table:check_options",
    catalog="seminas_toy.space:catalog",  # lets GBDT-NAS and WeakNAS rank all 256 cells
    space_class="seminas_toy.space:ToySpace",
)

SIMULATED = EvaluatorEntry(
    name="toy-sim",
    build="seminas_toy.table:simulated_training",
    options={"dataset": "smooth", "epochs": 12, "seed": 0},  # --dataset, --epochs, --seed
    description="simulated training: the table's accuracy plus seeded noise, and a short sleep",
    spaces=("toy",),
)
