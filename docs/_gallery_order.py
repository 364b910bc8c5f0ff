"""The gallery's order: the order in which the ideas build on each other (not the file names')."""

TEACHING_ORDER = (
    "plot_sigmoid_stable.py",
    "plot_cross_entropy_vs_squared.py",
    "plot_learning_rates.py",
    "plot_exploding_gradients.py",
    "plot_saddle_and_plateau.py",
    "plot_dead_relu.py",
    "plot_dask_training.py",
    "plot_benchmark_chart.py",
)


class TeachingOrder:
    """sphinx-gallery's ``within_subsection_order``: a listed example's place in TEACHING_ORDER, others after."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return "TeachingOrder"

    def __call__(self, filename):
        return (TEACHING_ORDER.index(filename) if filename in TEACHING_ORDER else len(TEACHING_ORDER), filename)
