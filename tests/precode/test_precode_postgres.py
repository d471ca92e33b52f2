"""A wave pre-coded from a seed project kept on PostgreSQL: the seed's model comes out of
the database (through this machine's cache) into the wave project's models/."""

from __future__ import annotations

import shutil
from pathlib import Path

from isp_nlp.pipeline import train_project
from isp_nlp.precode.wave import precode_wave
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import coded_project


def test_a_wave_adopts_the_model_of_a_postgres_seed_project(pg_url: str,
                                                            tmp_path: Path) -> None:
    (tmp_path / "seed").mkdir()
    seed, _, _ = coded_project(tmp_path / "seed", database=pg_url)
    with open_project(seed) as store:
        model_id = train_project(store, folds=2)["model_id"]
    wave = tmp_path / "wave"
    wave.mkdir()
    shutil.copy(tmp_path / "seed" / "site1.txt", wave / "w01.txt")
    outcome = precode_wave(wave, seed, tmp_path / "out")
    assert outcome.transcripts and not outcome.failed
    with open_project(tmp_path / "out") as out:
        info = out.latest_model()
        assert info is not None and info["id"] == model_id
        assert (tmp_path / "out" / "models" / model_id / "weights.npz").is_file()
        assert out.suggestions(model_id)
