"""Linear-probe classification: MTEB's protocol (8 examples per label, 10 experiments) or the full train set."""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from spacekit.errors import InputError


@dataclass(frozen=True)
class ClassificationProtocol:
    """MTEB's defaults, for leaderboard parity."""

    samples_per_label: int = 8     # MTEB
    n_experiments: int = 10        # MTEB
    seed: int = 42                 # MTEB
    max_iter: int = 100            # MTEB's LogisticRegression(max_iter=100)
    full: bool = False             # fit on the whole train set once instead


def undersample(labels: np.ndarray, idxs: np.ndarray, samples_per_label: int, seed: int) -> np.ndarray:
    """One MTEB experiment: seed numpy with `seed`, shuffle idxs in place (the permutation carries over to the
    next experiment), keep the first `samples_per_label` indices of each label in shuffled order."""
    np.random.RandomState(seed).shuffle(idxs)  # == np.random.seed(seed); np.random.shuffle(idxs)
    count: dict = defaultdict(int)
    chosen = []
    for i in idxs:
        if count[labels[i]] < samples_per_label:
            chosen.append(i)
            count[labels[i]] += 1
    return np.array(chosen, dtype=np.int64)


def training_subsets(labels: np.ndarray, protocol: ClassificationProtocol) -> list[np.ndarray]:
    """The train indices each experiment fits on."""
    if protocol.full:
        return [np.arange(len(labels))]
    idxs = np.arange(len(labels))
    return [undersample(labels, idxs, protocol.samples_per_label, protocol.seed)
            for _ in range(protocol.n_experiments)]


def linear_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 protocol: ClassificationProtocol = ClassificationProtocol()) -> tuple[dict[str, float], np.ndarray]:
    """Mean accuracy and macro-F1 over the experiments, and per test item the fraction of experiments right (x: a
    dense array, or a scipy sparse matrix: scikit-learn's logistic regression takes either)."""
    if x_train.shape[1] != x_test.shape[1]:
        raise InputError(f"dimension mismatch: train d={x_train.shape[1]}, test d={x_test.shape[1]}")
    unseen = sorted(set(y_test.tolist()) - set(y_train.tolist()))
    if unseen:
        raise InputError(f"test labels absent from train: {unseen[:5]}")
    acc, f1, correct = [], [], np.zeros(len(y_test))
    for subset in training_subsets(y_train, protocol):
        clf = LogisticRegression(random_state=protocol.seed, max_iter=protocol.max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # MTEB runs with max_iter=100 too
            clf.fit(x_train[subset], y_train[subset])
        pred = clf.predict(x_test)
        acc.append(accuracy_score(y_test, pred))
        f1.append(f1_score(y_test, pred, average="macro"))
        correct += pred == y_test
    return {"accuracy": float(np.mean(acc)), "f1_macro": float(np.mean(f1))}, correct / len(acc)
