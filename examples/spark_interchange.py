"""Spark ML and fastnn: the same model in both.

Spark's ``MultilayerPerceptronClassifier`` is fastnn's network (sigmoid hidden layers, softmax
output). Train it in Spark and continue in fastnn (predict, fine-tune, export), or hand fastnn's
weights to Spark; and predict a Spark DataFrame in batches with a fastnn model through
``mapInPandas`` (the model travels to the executors in the closure).

Needs pyspark and a Java runtime (Debian: default-jre-headless).

    python examples/spark_interchange.py
"""

import numpy as np
from pyspark.ml.classification import MultilayerPerceptronClassifier
from pyspark.ml.linalg import Vectors
from pyspark.sql import SparkSession
from sklearn.datasets import load_digits

import fastnn
from fastnn import spark


def main():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    session = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        frame = session.createDataFrame([(Vectors.dense(row), float(label)) for row, label in zip(X, y)],
                                        ["features", "label"])
        trained = MultilayerPerceptronClassifier(layers=[64, 32, 10], maxIter=50, seed=0).fit(frame)
        net = spark.from_spark_model(trained)  # the same network, now in fastnn
        print(f"Spark model in fastnn: accuracy {np.mean(net.predict(X) == y):.4f}")
        tuned = fastnn.Network(hidden=(32,), init=net.weights_, learning_rate=0.05, epochs=5).fit(X, y)
        print(f"fine-tuned in fastnn for 5 epochs: accuracy {np.mean(tuned.predict(X) == y):.4f}")

        layers, weights = spark.to_spark_weights(tuned)  # and back: Spark starts from fastnn's weights
        back = MultilayerPerceptronClassifier(layers=layers, initialWeights=Vectors.dense(weights), maxIter=0,
                                              seed=0).fit(frame)
        print(f"fastnn's weights in Spark: accuracy {back.evaluate(frame).accuracy:.4f}")

        pixels = session.createDataFrame([tuple(map(float, row)) for row in X], [f"p{i}" for i in range(64)])

        def predict(batches):  # runs on the executors, a pandas DataFrame of rows at a time
            for batch in batches:
                yield batch.assign(label=tuned.predict(batch.to_numpy()))[["label"]]

        labels = pixels.mapInPandas(predict, schema="label long").toPandas()["label"].to_numpy()
        print(f"batch prediction with mapInPandas: {len(labels)} rows, accuracy {np.mean(labels == y):.4f}")
    finally:
        session.stop()


if __name__ == "__main__":
    main()
