"""Time to accuracy: wall-clock of training until a validation accuracy target, one thread each.

For OCR large (128-50-10 data, ../shared/data/ocr; target 88%) and scikit-learn's digits (X / 16,
a stratified 70/30 split; target 97%), each contender trains epoch by epoch and is scored on the
validation rows after each epoch; the time of the epochs until the first that reaches the
target is reported (scoring excluded), the median over the seeds that reach it within
MAX_EPOCHS epochs. Contenders: fastnn's
``MLPClassifier`` in the configurations listed in FASTNN; scikit-learn's ``MLPClassifier`` with
its defaults (relu, adam, batch "auto", learning rate 0.001; ``partial_fit`` per epoch); a plain
PyTorch loop with its usual defaults (``torch.optim.Adam(lr=1e-3)``, relu, mini-batches of 200,
shuffled). Run from the project root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/time_to_accuracy.py [--seeds N]
"""
import _threads

_threads.pin_single_thread()  # before numpy is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MAX_EPOCHS = 100
HIDDEN = {"ocr": (50,), "digits": (64,)}
TARGET = {"ocr": 0.88, "digits": 0.97}
#: fastnn's configurations: name -> MLPClassifier parameters
FASTNN = {
    "fastnn defaults (logistic, per-sample SGD, lr 0.01)": dict(),
    "fastnn adam, per sample (relu, lr 0.001, alpha 1e-3)": dict(solver="adam", batch_size=1, learning_rate_init=0.001,
                                                                activation="relu", alpha=1e-3),
    "fastnn adam, batch 32 (relu, lr 0.003)": dict(solver="adam", batch_size=32, learning_rate_init=0.003,
                                                   activation="relu"),
}


def load(name, seed):
    if name == "ocr":
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest import load_ocr

        X, y = load_ocr("large_train")
        X_val, y_val = load_ocr("large_validation")
        return X, y, X_val, y_val
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=seed)
    return X_train, y_train, X_val, y_val


def epochs_of_estimator(model, X, y, classes):
    """One epoch per call of the returned function (partial_fit), then its validation accuracy."""
    def epoch():
        model.partial_fit(X, y, classes=classes)
    return epoch, model.score


def epochs_of_torch(X, y, hidden, seed):
    import torch

    torch.manual_seed(seed)
    layers, n_in = [], X.shape[1]
    for n_out in hidden:
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        n_in = n_out
    model = torch.nn.Sequential(*layers, torch.nn.Linear(n_in, int(y.max()) + 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(np.asarray(X, dtype=np.float32)), torch.from_numpy(np.asarray(y, dtype=np.int64))
    generator = torch.Generator().manual_seed(seed)

    def epoch():
        order = torch.randperm(len(yt), generator=generator)
        for start in range(0, len(yt), 200):
            rows = order[start:start + 200]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
            opt.step()

    def score(X_val, y_val):
        with torch.inference_mode():
            predicted = model(torch.from_numpy(np.asarray(X_val, dtype=np.float32))).argmax(1).numpy()
        return float((predicted == np.asarray(y_val)).mean())
    return epoch, score


def time_to_target(epoch, score, X_val, y_val, target):
    """(seconds of training until the target is first reached, epochs, best accuracy), seconds None
    when it is not reached in MAX_EPOCHS epochs."""
    spent, best = 0.0, 0.0
    for n in range(1, MAX_EPOCHS + 1):
        start = time.perf_counter()
        epoch()
        spent += time.perf_counter() - start
        best = max(best, score(X_val, y_val))
        if best >= target:
            return spent, n, best
    return None, MAX_EPOCHS, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", default="ocr,digits")
    args = parser.parse_args(argv)
    import fastnn
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    warnings.simplefilter("ignore")
    for name in args.data.split(","):
        results = {}
        for seed in range(args.seeds):
            X, y, X_val, y_val = load(name, seed)
            classes = np.unique(y)
            runs = {label: epochs_of_estimator(fastnn.MLPClassifier(hidden_layer_sizes=HIDDEN[name], random_state=seed,
                                                                    **params), X, y, classes)
                    for label, params in FASTNN.items()}
            runs["scikit-learn defaults (relu, adam, batch auto)"] = epochs_of_estimator(
                SklearnMLP(hidden_layer_sizes=HIDDEN[name], random_state=seed), X, y, classes)
            try:
                runs["PyTorch Adam loop (relu, batch 200)"] = epochs_of_torch(X, y, HIDDEN[name], seed)
            except ImportError:
                pass
            for label, (epoch, score) in runs.items():
                results.setdefault(label, []).append(time_to_target(epoch, score, X_val, y_val, TARGET[name]))
        print(f"\n{name}: validation accuracy >= {TARGET[name]:.0%}, hidden {HIDDEN[name]}, {args.seeds} seeds")
        for label, runs in results.items():
            reached = [s for s, _, _ in runs if s is not None]
            text = f"{statistics.median(reached):7.3f} s" if reached else "      -  "
            print(f"  {label:52s} {text}  reached by {len(reached)}/{len(runs)} seeds; epochs "
                  f"{[n for _, n, _ in runs]}; best accuracy {[round(b, 4) for _, _, b in runs]}")


if __name__ == "__main__":
    main()
