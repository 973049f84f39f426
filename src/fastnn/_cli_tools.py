"""The ``fastnn`` commands that use a model: predict, evaluate, neuralnet, gradcheck, export, diagram."""

import sys
from pathlib import Path

import numpy as np

from . import io as fnn_io
from ._cli_common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    UsageError,
    _activations,
    _check_output_file,
    _load_labelled,
    _read_data,
    _same_file,
    regression_scores,
)
from .io import DataFormatError, ModelFormatError
from .network import Network


def _load_model(path, command="predict"):
    hint = f"MODEL comes first: 'fastnn {command} MODEL DATA'"
    if Path(path).suffix.lower() == ".csv":
        raise UsageError(f"{path}: this is a data file, not a model; {hint}")
    try:
        net = fnn_io.load(path)
    except ModelFormatError as exc:
        if "'metadata' entry is missing" in str(exc):
            raise ModelFormatError(f"{exc}; {hint}", path=exc.path) from None
        raise
    metadata = getattr(net, "metadata_", {})
    classes = list(metadata["classes"]) if "classes" in metadata else list(range(net.n_classes_))
    return net, classes


def _read_targets(net, args):
    """``(X, Y)`` of DATA for a regression or multilabel model: its ``n_outputs_`` target columns
    first, ``Y`` of shape (n_samples, n_outputs)."""
    what = "target column" if net.output == "identity" else "label columns"
    X, y = _load_labelled(args.data, args, labels="float", targets=net.n_outputs_, header=args.header,
                          n_features=net.n_features_in_, no_labels_hint=what)
    return X, y.reshape(y.shape[0], -1)


def cmd_predict(args):
    """``fastnn predict``: see :data:`PREDICT_EPILOG`."""
    if args.output is not None:
        _check_output_file(args.output, "-o")
        if _same_file(args.output, args.data) or _same_file(args.output, args.model):
            raise UsageError(f"{args.output}: -o would overwrite an input file")
    net, classes = _load_model(args.model, "predict")
    if args.proba and net.output == "identity":
        raise UsageError(f"{args.model}: --proba does not apply: this is a regression model (identity output), "
                         "it predicts values; drop --proba")
    if args.no_labels:
        X = _read_data(args.data, args, labels=None, header=args.header, n_features=net.n_features_in_)
    elif net.output in ("identity", "multilabel"):
        X, _ = _read_targets(net, args)
    else:
        X, _ = _load_labelled(args.data, args, labels="auto", header=args.header, n_features=net.n_features_in_,
                              no_labels_hint=True)
    if args.proba:
        P = net.predict_proba(X)
        text = "".join(",".join(repr(float(p)) for p in row) + "\n" for row in P.tolist())
    elif net.output == "identity":  # N values per row
        values = net.predict(X).reshape(X.shape[0], -1)
        text = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in values.tolist())
    elif net.output == "multilabel":  # a 0/1 row per sample, a column per label
        text = "".join(",".join(map(str, row)) + "\n" for row in net.predict(X).tolist())
    else:
        text = "".join(f"{classes[k]}\n" for k in net.predict(X).tolist())
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        fnn_io.write_atomic(args.output, text)
    return EXIT_OK


def format_confusion(C, classes):
    """The confusion matrix as a text table (rows: true label, columns: predicted label)."""
    names = [str(c) for c in classes]
    width = max(max(len(n) for n in names), len(str(int(C.max()) if C.size else 0)), 1)
    corner = "true\\pred"
    head = max(len(corner), width)
    lines = [f"{corner:>{head}} " + " ".join(f"{n:>{width}}" for n in names)]
    for name, row in zip(names, C):
        lines.append(f"{name:>{head}} " + " ".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)


def cmd_evaluate(args):
    """``fastnn evaluate``: see :data:`EVALUATE_EPILOG`."""
    net, classes = _load_model(args.model, "evaluate")
    if net.output == "identity":
        return _evaluate_regression(net, args)
    if net.output == "multilabel":
        return _evaluate_multilabel(net, args, classes)
    K = net.n_classes_
    if classes == list(range(K)):
        X, y = _load_labelled(args.data, args, header=args.header, n_features=net.n_features_in_, n_classes=K)
    else:
        X, labels = _load_labelled(args.data, args, labels="auto", header=args.header,
                                   n_features=net.n_features_in_)
        # the file's labels as text match the model's class names (3 and "3" alike)
        index = {str(c): k for k, c in enumerate(classes)}
        labels = [str(label) for label in labels.tolist()]
        unknown = [i for i, label in enumerate(labels) if label not in index]
        if unknown:
            row = unknown[0]
            where = (f"{args.data}:{row + 1 + args.header}:1" if args.data.lower().endswith(".csv")
                     else args.data)
            raise DataFormatError(f"{where}: label {labels[row]!r} is not one of the model's classes "
                                  f"{classes[:20]}", path=args.data)
        y = np.array([index[label] for label in labels], dtype=np.int64)
    predicted = net.predict(X)
    error = float(np.mean(predicted != y))
    loss = float(net.loss(X, y))
    print(f"samples:       {X.shape[0]}")
    print(f"accuracy:      {1.0 - error!r}")
    print(f"error:         {error!r}")
    print(f"cross-entropy: {loss!r}")
    print("confusion matrix (rows: true label, columns: predicted label):")
    from sklearn.metrics import confusion_matrix

    print(format_confusion(confusion_matrix(y, predicted, labels=np.arange(K)), classes))
    return EXIT_OK


def _evaluate_regression(net, args):
    """``fastnn evaluate`` of a regression model: RMSE, MAE, R2 and the loss (each target's too)."""
    X, Y = _read_targets(net, args)
    scores = regression_scores(Y, net.predict(X).reshape(Y.shape))
    r2 = "n/a (needs at least 2 samples)" if scores["r2"] is None else repr(scores["r2"])
    print(f"samples:       {X.shape[0]}")
    print(f"RMSE:          {scores['rmse']!r}")
    print(f"MAE:           {scores['mae']!r}")
    print(f"R2:            {r2}")
    print(f"loss:          {float(net.loss(X, Y))!r}")
    if Y.shape[1] > 1:
        per_target = scores["per_target"]
        print("per target:")
        print(f"{'target':>6} {'RMSE':>12} {'MAE':>12} {'R2':>12}")
        for j, (rmse, mae, r2) in enumerate(zip(per_target["rmse"], per_target["mae"], per_target["r2"]), 1):
            r2 = "n/a" if r2 is None else f"{r2:.6g}"
            print(f"{j:>6} {rmse:>12.6g} {mae:>12.6g} {r2:>12}")
    return EXIT_OK


def _evaluate_multilabel(net, args, classes):
    """``fastnn evaluate`` of a multilabel model: subset accuracy, Hamming loss, cross-entropy and
    each label's accuracy."""
    X, Y = _read_targets(net, args)
    bad = (Y != 0) & (Y != 1)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        csv = args.data.lower().endswith(".csv")
        where = f"{args.data}:{row + 1 + args.header}:{column + 1}" if csv else f"{args.data}: y[{row}, {column}]"
        raise DataFormatError(f"{where}: label value {float(Y[row, column])!r} is not 0 or 1 (a multilabel model's "
                              f"DATA has its {Y.shape[1]} 0/1 label columns first)", path=args.data)
    predicted = net.predict(X)
    right = predicted == Y
    print(f"samples:         {X.shape[0]}")
    print(f"subset accuracy: {float(np.mean(right.all(axis=1)))!r}")
    print(f"Hamming loss:    {float(np.mean(~right))!r}")
    print(f"cross-entropy:   {float(net.loss(X, Y))!r}")
    print("accuracy of each label:")
    names = [str(c) for c in classes]
    width = max(max(len(n) for n in names), len("label"))
    print(f"{'label':>{width}} {'accuracy':>10}")
    for name, accuracy in zip(names, right.mean(axis=0).tolist()):
        print(f"{name:>{width}} {accuracy:>10.6g}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# neuralnet (the handout's program)


def neuralnet_metrics(history, train_error, validation_error):
    """The handout's metrics file text.

    Parameters
    ----------
    history : dict
        ``{"train_loss": [...], "val_loss": [...]}``, one entry per epoch.
    train_error, validation_error : float

    Returns
    -------
    str
        ``epoch=e crossentropy(train): v`` and ``epoch=e crossentropy(validation): v`` for each
        epoch, then ``error(train): v`` and ``error(validation): v``; values are ``repr`` of the
        float, lines end in ``\\n``.
    """
    lines = []
    for epoch, (train, validation) in enumerate(zip(history["train_loss"], history["val_loss"]), start=1):
        lines.append(f"epoch={epoch} crossentropy(train): {float(train)!r}")
        lines.append(f"epoch={epoch} crossentropy(validation): {float(validation)!r}")
    lines.append(f"error(train): {float(train_error)!r}")
    lines.append(f"error(validation): {float(validation_error)!r}")
    return "\n".join(lines) + "\n"


def cmd_neuralnet(args):
    """``fastnn neuralnet``: see :data:`NEURALNET_EPILOG`."""
    outputs = {"TRAIN_OUT": args.train_out, "VALIDATION_OUT": args.validation_out,
               "METRICS_OUT": args.metrics_out}
    for option, path in outputs.items():
        _check_output_file(path, option)
        for input_path in (args.train_input, args.validation_input):
            if _same_file(path, input_path):
                raise UsageError(f"{path}: {option} would overwrite the input file {input_path}")
    paths = [path for path in outputs.values() if not fnn_io.writes_through(path)]
    for i, path in enumerate(paths):
        if any(_same_file(path, other) for other in paths[:i]):
            raise UsageError(f"{path}: two outputs name the same file")

    X, y = fnn_io.read_csv(args.train_input)
    X_val, y_val = fnn_io.read_csv(args.validation_input, n_features=X.shape[1])
    if max(y.max(), y_val.max()) < 1:
        raise DataFormatError(f"{args.train_input}: every label is 0; the softmax needs at least 2 classes",
                              path=args.train_input)
    net = Network(hidden=(args.hidden_units,), output="softmax",
                  init="uniform" if args.init_flag == 1 else "zeros", learning_rate=args.learning_rate,
                  epochs=args.num_epoch, shuffle=False, dtype="float64", random_state=args.seed)
    try:
        net.fit(X, y, X_val, y_val)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if net.interrupted_:  # the handout's files describe a complete run: write none
        raise KeyboardInterrupt
    predicted_train, predicted_val = net.predict(X), net.predict(X_val)
    contents = {
        args.train_out: "".join(f"{k}\n" for k in predicted_train.tolist()),
        args.validation_out: "".join(f"{k}\n" for k in predicted_val.tolist()),
        args.metrics_out: neuralnet_metrics(net.history_, np.mean(predicted_train != y),
                                            np.mean(predicted_val != y_val)),
    }
    fnn_io.write_files(contents.items())  # all three files, or none changes
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# gradcheck


def cmd_gradcheck(args):
    """``fastnn gradcheck``: see :data:`GRADCHECK_EPILOG`."""
    from .gradcheck import check_layers

    rng = np.random.default_rng(args.seed)
    if args.model is not None:
        given = [name for name in ("hidden", "features", "classes", "output", "activation")
                 if getattr(args, name) is not None]
        if given:
            option = getattr(args, "output_option", None) if given[0] == "output" else f"--{given[0]}"
            raise UsageError(f"--model checks a saved network; drop {option} (see 'fastnn gradcheck --help')")
        net = fnn_io.load(args.model)
        output, n_features = net.output, net.n_features_in_
        draw_x = lambda: rng.uniform(0.0, 1.0, size=n_features)  # noqa: E731
        what = f"model {args.model}"
    else:
        output = args.output or "softmax"
        hidden = [5, 4] if args.hidden is None else args.hidden
        activation = _activations(args.activation, hidden)
        n_features = 6 if args.features is None else args.features
        n_classes = args.classes if args.classes is not None else (2 if output == "sigmoid" else 3)
        if output == "sigmoid" and n_classes != 2:
            option = getattr(args, "output_option", None) or "--output-layer"
            raise UsageError(f"{option} sigmoid has 2 classes, got --classes {n_classes}")
        if n_classes < 2 and output == "softmax":
            raise UsageError(f"--classes must be >= 2, got {n_classes}")
        sizes = [n_features, *hidden, 1 if output == "sigmoid" else n_classes]
        weights = [rng.normal(size=(n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        net = Network.from_weights(weights, output=output, activation=activation)
        draw_x = lambda: rng.normal(size=n_features)  # noqa: E731
        names = activation if isinstance(activation, str) else "/".join(activation)
        units = "" if names == "logistic" else f" ({names} hidden units)"
        what = f"random {'-'.join(map(str, sizes))} {output} network{units}"
    if output == "identity":
        draw_y = lambda: rng.normal(size=net.n_outputs_)  # noqa: E731
    elif output == "multilabel":
        draw_y = lambda: rng.integers(0, 2, size=net.n_outputs_).astype(np.float64)  # noqa: E731
    else:
        draw_y = lambda: int(rng.integers(net.n_classes_))  # noqa: E731
    shapes = [W.shape for W in net.weights_]
    worst = [None] * len(shapes)  # per layer, the conclusive check with the largest error
    inconclusive = [0] * len(shapes)
    for _ in range(args.samples):
        for layer, check in enumerate(check_layers(net, draw_x(), draw_y(), eps=args.eps)):
            if not check.conclusive(args.tolerance):
                inconclusive[layer] += 1
            elif worst[layer] is None or check.error > worst[layer].error:
                worst[layer] = check
    print(f"gradient check of the {what}: {args.samples} samples, eps {args.eps:g}")
    failed = unknown = False
    for layer, (shape, check) in enumerate(zip(shapes, worst), start=1):
        where = f"layer {layer} ({shape[0]}x{shape[1]}):"
        if check is None:
            unknown = True
            print(f"{where} inconclusive: on every sample the gradient is too small for the finite differences "
                  "to resolve (saturated units); try inputs of a smaller scale or a larger --eps")
            continue
        verdict = "ok" if check.error <= args.tolerance else "FAILED"
        failed |= verdict == "FAILED"
        note = f" ({inconclusive[layer - 1]} inconclusive sample(s) left out)" if inconclusive[layer - 1] else ""
        print(f"{where} worst relative error {check.error:.3e}  {verdict}{note}")
    if failed:
        print(f"FAILED: relative error above the tolerance {args.tolerance:g}")
        return EXIT_FAILURE
    if unknown:
        print("inconclusive: some layer could not be checked (see above); the others passed")
        return EXIT_OK
    print(f"passed (tolerance {args.tolerance:g})")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# export


def cmd_export(args):
    """``fastnn export``: see :data:`fastnn.cli.EXPORT_EPILOG`."""
    _check_output_file(args.onnx, "OUTPUT")
    if _same_file(args.onnx, args.model):
        raise UsageError(f"{args.onnx}: OUTPUT would overwrite the model file")
    net, _ = _load_model(args.model, "export")  # the export labels rows with its metadata_'s class names
    try:
        from .onnx import to_onnx
    except ImportError as exc:
        raise CommandError(f"{exc}") from None
    fnn_io.write_atomic(args.onnx, to_onnx(net, dtype=args.dtype).SerializeToString())
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# diagram


def cmd_diagram(args):
    """``fastnn diagram``: see :data:`fastnn.cli.DIAGRAM_EPILOG`."""
    from .plots import _image_format, network_diagram

    _check_output_file(args.image, "OUTPUT")
    if _same_file(args.image, args.model):
        raise UsageError(f"{args.image}: OUTPUT would overwrite the model file")
    try:
        _image_format(args.image)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    net, _ = _load_model(args.model, "diagram")
    network_diagram(net, args.image, max_units=args.max_units, max_edges=args.max_edges)
    return EXIT_OK
