"""Which champion scoring uses: the verified bundle on disk, or the MLflow registry's alias.

Kept apart from :mod:`riskmodel.scoring` (which only scores a bundle it is given) and
:mod:`riskmodel.tracking` (the registry), so neither depends on the other.
"""

from __future__ import annotations

import logging

from riskmodel.bundle import Bundle
from riskmodel.config import Settings
from riskmodel.exceptions import ModelNotFoundError
from riskmodel.tracking import load_champion

log = logging.getLogger(__name__)


def load_champion_bundle(settings: Settings) -> Bundle:
    """The champion, from where ``safety.champion_source`` says, and a log line saying which and why.

    ``bundle`` (default): the verified bundle in ``models_dir/champion`` only;
    ``bundle_or_registry``: the registry alias when there is no bundle at all (a
    bundle that fails verification is never replaced); ``registry``: the alias.
    Raises ModelNotFoundError or BundleIntegrityError with one clear line.
    """
    directory = settings.resolve(settings.paths.models_dir) / "champion"
    source = settings.safety.champion_source
    if source != "registry":
        try:
            bundle = Bundle.load(directory)
        except ModelNotFoundError as first:
            if source == "bundle":
                raise ModelNotFoundError(f"{first} (the MLflow registry is not used unless params.yaml sets "
                                         "safety.champion_source: bundle_or_registry)") from None
            try:
                bundle = load_champion(settings)
            except ModelNotFoundError as second:
                raise ModelNotFoundError(f"{first}; and {second}") from None
            log.warning("no bundle in %s: using the MLflow registry champion %s %s "
                        "(safety.champion_source = bundle_or_registry)", directory, bundle.model_name, bundle.version)
            return bundle
        log.info("champion: %s %s from the verified bundle %s", bundle.model_name, bundle.version, directory)
        return bundle
    bundle = load_champion(settings)
    log.info("champion: %s %s from the MLflow registry (safety.champion_source = registry)",
             bundle.model_name, bundle.version)
    return bundle
