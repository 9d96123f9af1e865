"""Test-only estimators, importable by dotted path ("counting.CountingGNB")."""

from sklearn.naive_bayes import GaussianNB


class CountingGNB(GaussianNB):
    """GaussianNB that counts its fits (in-process runs only)."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


class FailingOnSmall(GaussianNB):
    """Raises on training sets of fewer than 40 rows: a stand-in for a fit that breaks."""

    def fit(self, X, y, sample_weight=None):
        if len(X) < 40:
            raise RuntimeError(f"too few rows ({len(X)})")
        return super().fit(X, y, sample_weight=sample_weight)
