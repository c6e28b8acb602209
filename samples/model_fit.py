# Known answer: what `filrec summary` reports for this program, run with PyPI's NumPy 2
# and scikit-learn 1.9 (.venv's CPython 3.11) in default mode. Bytes are counted above
# the baseline: the peak of an interpreter that runs only this file's imports.
# `blas_pca_top` is what OpenBLAS holds for the calling thread once its products ran,
# `blas_pca_peak` that and its worker's; the test measures them (see gram_matrix.py).
#
# expect: peak_bytes = 320_106_848 + blas_pca_peak
# expect: top_line = 72
# expect: top_function = compress
# expect: top_bytes = 288_426_848 + blas_pca_top
# expect: not_at_peak = 65
#
# Why: N = 40,000 images of P = 28 x 28 = 784 pixels, one byte a pixel: the images are
# N x P = 31,360,000 bytes (line 64; the noise is added in place, its uint8
# temporary is gone), their labels N int64 = 320,000 (line 63). PCA computes in
# floating point: fit_transform's validation converts the uint8 images to float64, the
# first of the dtypes it accepts, in a new array of 8NP = 250,880,000 bytes, allocated
# inside scikit-learn under line 72: the top location, with all fit_transform holds. With
# P <= 1,000 and N >= 10P the solver is "covariance_eigh": it never centers (or copies) the data but
# computes the P x P matrix X.T @ X and its eigenvectors, 8P^2 = 4,917,248 bytes, which
# fit returns to fit_transform (the matrix itself is freed). It keeps the first 100 as
# components_ (100 x P float64, 627,200 bytes) with three vectors of 100 (2,400). Then
# fit_transform projects the float64 data: X @ components_.T, N x 100 float64 =
# 32,000,000 bytes, still alongside the float64 copy. The peak comes during that
# product: 31,360,000 + 320,000 + 250,880,000 + 4,917,248 + 629,600 + 32,000,000 =
# 320,106,848 bytes (and a few vectors of P floats, mean_ and the like: 13 KB), plus
# blas_pca_peak: the first product in this thread (X.T @ X) makes OpenBLAS map its
# buffer for the thread (32 MiB in PyPI's copy, of which the pages the products write
# count), and while a product is split between threads OpenBLAS also holds a table of
# their jobs (524,288 bytes in a build for up to 64 threads); a probe running the same
# two products on matrices of these shapes measures them. Earlier moments are lower: while the eigenvectors are computed,
# X.T @ X, the eigensolver's copy of it and its workspace hold about 20 MB, less than
# the projection's 32 MB. fit_transform frees the float64 copy when it returns; the
# classifier works on the 32 MB of coordinates. So line 72 holds all but the images and
# labels: 288,426,848 bytes + blas_pca_top (+ 13 KB). float32 images would halve the copy.
"""Compress 8-bit grayscale images with PCA (scikit-learn) and check that their
classes still separate in the compressed space, with a nearest-centroid classifier."""
import sys

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestCentroid

N_IMAGES = 40_000
SIDE = 28
N_CLASSES = 10
N_COMPONENTS = 100


def make_patterns(n_classes, side, seed):
    """One blurred spot for each class, somewhere inside a side x side image, as uint8."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(6, side - 6, size=(n_classes, 2, 1, 1))
    y, x = np.mgrid[0:side, 0:side]
    d2 = (y - centres[:, 0]) ** 2 + (x - centres[:, 1]) ** 2
    return (100 * np.exp(-d2 / 50)).astype(np.uint8).reshape(n_classes, side * side)


def make_images(n, side, n_classes, seed=5):
    """n noisy 8-bit images, each showing its class's pattern; and their labels."""
    rng = np.random.default_rng(seed)
    patterns = make_patterns(n_classes, side, seed + 1)
    labels = rng.integers(0, n_classes, size=n)
    images = patterns[labels]
    images += rng.integers(0, 150, size=images.shape, dtype=np.uint8)
    return images, labels


def compress(images, n_components):
    """The fitted PCA and the images' coordinates on its first n_components axes."""
    pca = PCA(n_components=n_components)
    features = pca.fit_transform(images)
    return pca, features


def main():
    images, labels = make_images(N_IMAGES, SIDE, N_CLASSES)
    pca, features = compress(images, N_COMPONENTS)
    clf = NearestCentroid().fit(features, labels)
    print("%d images, %d components keep %.1f%% of the variance, nearest-centroid "
          "accuracy %.4f" % (len(images), pca.n_components_,
                             100 * pca.explained_variance_ratio_.sum(),
                             clf.score(features, labels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
