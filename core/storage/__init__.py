"""Byte storage: the interface (base), local disk (local, the default) and S3-compatible (s3) backends."""

from core.settings import Settings
from core.storage.base import Storage
from core.storage.local import LocalStorage


def open_storage(settings: Settings) -> Storage:
    """The storage backend the settings ask for."""
    if settings.storage_backend == "s3":
        from core.storage.s3 import S3Storage  # boto3 is imported only when S3 is used

        return S3Storage.from_settings(settings)
    return LocalStorage(settings.storage_dir)
