"""Making thumbnails of photos."""

from pathlib import Path

from PIL import Image


def make_thumbnail(photo: Path, size: int = 256) -> Path:
    """Shrink a picture so its longest side is `size` pixels, keeping the aspect ratio."""
    with Image.open(photo) as image:
        image.thumbnail((size, size))
        target = photo.with_name(photo.stem + "_thumb.jpg")
        image.convert("RGB").save(target, "JPEG", quality=85)
    return target
