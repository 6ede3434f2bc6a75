"""Domain errors: each carries a machine-readable code and a message a person can act on."""

from __future__ import annotations


class AlphaPlusError(Exception):
    """Base of every error a user can cause; the CLI prints ``str(err)`` on one line and exits 1."""

    code = "alphaplus_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigurationError(AlphaPlusError):
    code = "configuration"


class SchemaOutOfDate(ConfigurationError):
    """The database lacks tables or migrations this version of the code needs."""

    code = "schema_out_of_date"


class DatabaseUnavailable(AlphaPlusError):
    code = "database_unavailable"


class MigrationError(AlphaPlusError):
    code = "migration"


class MigrationChecksumMismatch(MigrationError):
    code = "migration_checksum_mismatch"


class EmbeddedDatabaseError(AlphaPlusError):
    code = "embedded_database"


class NotFound(AlphaPlusError):
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class NoProductionVersion(NotFound):
    code = "no_production_version"


class IllegalTransition(AlphaPlusError):
    code = "illegal_transition"


class ConcurrentModification(AlphaPlusError):
    """Another writer changed the slot first; nothing was changed by this call."""

    code = "concurrent_modification"


class QuarantinedError(AlphaPlusError):
    code = "quarantined"


class QuarantineOfServingVersion(QuarantinedError):
    """A quarantine would cover a version serving production; nothing was quarantined."""

    code = "quarantine_of_serving_version"


class InvalidInput(AlphaPlusError):
    code = "invalid_input"


class PermissionDenied(AlphaPlusError):
    code = "permission_denied"


class ArtifactIntegrityError(AlphaPlusError):
    code = "artifact_integrity"


class DataQualityError(AlphaPlusError):
    """Candles failed the quality gate; nothing was trained or registered from them."""

    code = "data_quality"


class InsufficientData(InvalidInput):
    """A slot has too few usable bars to train: the slot is skipped, the run goes on."""

    code = "insufficient_data"


class RunFailed(AlphaPlusError):
    """A flow finished with failed slots; the others' results were kept (``results``: every slot's)."""

    code = "run_failed"

    def __init__(self, message: str, results: list | None = None) -> None:
        super().__init__(message)
        self.results = list(results or [])


class ArtifactStorageError(AlphaPlusError):
    """The artifact root could not be reached or written (an object store's endpoint, bucket or
    credentials); nothing was registered."""

    code = "artifact_storage"
