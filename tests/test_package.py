import subprocess
import sys

import astroiqa_indi
from astroiqa_indi import errors
from astroiqa_indi.cli import main


def test_version_is_installed_metadata() -> None:
    assert astroiqa_indi.__version__ == "0.3.0"


def test_every_error_derives_from_root() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.AstroIQAError), name


def test_profile_error_names_file_line_and_key() -> None:
    exc = errors.ProfileError("expected an integer", file="rig.yaml", line=7, key="mqtt.port")
    assert str(exc) == "rig.yaml:7: mqtt.port: expected an integer"


def test_cli_version_and_help(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: astroiqa-indi" in out


def test_importing_package_does_not_load_tensorflow() -> None:
    code = "import astroiqa_indi, astroiqa_indi.grading, sys; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_profile_error_survives_pickling() -> None:
    import pickle

    exc = errors.ProfileError("bad", file="a.yaml", line=3, key="indi.port")
    back = pickle.loads(pickle.dumps(exc))
    assert (back.file, back.line, back.key, str(back)) == ("a.yaml", 3, "indi.port", str(exc))
