"""MNIST-style preprocessing of drawn digits, and the classification metrics."""

import numpy as np
import pytest

from ffnn.images import mnist_like, read_image
from ffnn.metrics import confusion_matrix, per_class_accuracy


def centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    return (ys * img).sum() / img.sum(), (xs * img).sum() / img.sum()


def bounding_box(img, level=0.05):
    rows, cols = np.flatnonzero((img > level).any(axis=1)), np.flatnonzero((img > level).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_dark_stroke_on_white_becomes_a_centred_20_pixel_digit():
    page = np.ones((300, 200))
    page[30:270, 150:170] = 0.0  # a dark vertical stroke, off-centre
    img = mnist_like(page)
    assert img.shape == (28, 28) and img.max() == pytest.approx(1.0)
    top, bottom, left, right = bounding_box(img)
    assert bottom - top + 1 == 20
    assert right - left + 1 <= 3
    np.testing.assert_allclose(centre_of_mass(img), (13.5, 13.5), atol=0.5)
    assert img[0].max() == 0 and img[:, 0].max() == 0  # background black


def test_wide_shapes_fit_20_columns_and_keep_aspect():
    page = np.zeros((100, 100))
    page[45:55, 0:100] = 1.0  # a white horizontal bar on black: no inversion
    img = mnist_like(page)
    top, bottom, left, right = bounding_box(img)
    assert right - left + 1 == 20
    assert bottom - top + 1 <= 3


def test_blank_and_bad_images():
    np.testing.assert_array_equal(mnist_like(np.ones((10, 10))), np.zeros((28, 28)))
    with pytest.raises(ValueError, match="2-D grey image"):
        mnist_like(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match=r"grey values in \[0, 1\]"):
        mnist_like(np.full((5, 5), 2.0))


def test_png_files_are_read_grey_with_transparency_as_white(tmp_path):
    from PIL import Image

    rgba = np.zeros((40, 30, 4), np.uint8)  # fully transparent...
    rgba[5:35, 12:18] = (0, 0, 0, 255)  # ...except an opaque black stroke
    Image.fromarray(rgba, "RGBA").save(tmp_path / "d.png")
    grey = read_image(tmp_path / "d.png")
    assert grey.shape == (40, 30)
    assert grey[0, 0] == 1.0 and grey[20, 15] == 0.0
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="not a readable PNG/JPEG image"):
        read_image(tmp_path / "bad.png")


def test_confusion_matrix_and_per_class_accuracy():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    c = confusion_matrix(y_true, y_pred, 4)
    np.testing.assert_array_equal(c[:3, :3], [[1, 1, 0], [1, 2, 0], [1, 0, 0]])
    assert c.sum() == 6
    acc = per_class_accuracy(c)
    np.testing.assert_allclose(acc[:3], [0.5, 2 / 3, 0.0])
    assert np.isnan(acc[3])


def test_huge_images_are_refused_before_decoding(tmp_path):
    from PIL import Image

    Image.new("L", (5000, 4000)).save(tmp_path / "big.png")  # 20 Mpx of zeros compresses to a few kB
    with pytest.raises(ValueError, match=r"the image is 5000×4000; at most 16,777,216 pixels"):
        read_image(tmp_path / "big.png")
