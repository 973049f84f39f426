"""Hyperparameter search with Ray Tune, one partial_fit epoch per reported step.

ASHA stops unpromising candidates early, from the validation accuracy each trial reports after
every epoch; fastnn's ``partial_fit`` is exactly one epoch of per-sample SGD, so a trial is a
loop of ``partial_fit`` and ``tune.report``. Here Ray runs locally; ``ray.init(address=...)``
connects to a cluster (every node needs fastnn installed).

    python examples/tune_with_ray.py
"""

import warnings

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastnn

EPOCHS = 20


def trial(config, data):
    X_train, X_val, y_train, y_val = data
    model = fastnn.MLPClassifier(hidden_layer_sizes=(config["hidden"],), learning_rate_init=config["learning_rate"],
                                 alpha=config["alpha"], random_state=0)
    for _ in range(EPOCHS):
        model.partial_fit(X_train, y_train, classes=list(range(10)))
        tune.report({"accuracy": model.score(X_val, y_val)})


def main():
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    data = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_parameters(trial, data=data),
            param_space={"hidden": tune.choice([16, 32, 64]), "learning_rate": tune.loguniform(1e-3, 0.3),
                         "alpha": tune.loguniform(1e-6, 1e-2)},
            tune_config=tune.TuneConfig(num_samples=8, metric="accuracy", mode="max",
                                        scheduler=ASHAScheduler(max_t=EPOCHS, grace_period=3)),
        )
        best = tuner.fit().get_best_result()
        print(f"best configuration: {best.config}")
        print(f"its validation accuracy: {best.metrics['accuracy']:.4f}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
