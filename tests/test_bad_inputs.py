"""A catalogue of bad inputs across the CLI and the Python API.

Every case must give one clear line that names the parameter or the file (CLI: on stderr, exit
status 2, no traceback; API: ``ValueError``), before any training starts, and never a silent
default.  The needles are the parameter / file names a user would look for, not the code's
wording.
"""

from __future__ import annotations

import json
import os
import shlex

import pytest

from fltheory.cli import main

# -------------------------------------------------------------------------------------- fixtures
SMALL = """\
name = "tiny"
seed = 0
[data]
name = "digits"
num_clients = 4
[model]
name = "logreg"
[training]
rounds = 1
"""

FILES = {
    "cfg.toml": SMALL,
    "empty.toml": "",
    "comment_only.toml": "# nothing here\n",
    "badkey.toml": SMALL + "bogus_key = 1\n",
    "badsyntax.toml": "name = \n[data\n",
    "rounds_str.toml": SMALL.replace("rounds = 1", 'rounds = "ten"'),
    "rounds0.toml": SMALL.replace("rounds = 1", "rounds = 0"),
    "lr_neg.toml": SMALL.replace("rounds = 1", "rounds = 1\nlr = -1.0"),
    "clients0.toml": SMALL.replace("num_clients = 4", "num_clients = 0"),
    "data_nope.toml": SMALL.replace('name = "digits"', 'name = "imagenet"'),
    "model_nope.toml": SMALL.replace('name = "logreg"', 'name = "resnet9000"'),
    "seed_neg.toml": SMALL.replace("seed = 0", "seed = -1"),
    "device_tpu.toml": SMALL.replace("seed = 0", 'seed = 0\ndevice = "tpu"'),
    "privacy_foo.toml": SMALL + '[privacy]\nlevel = "foo"\n',
    "noise_neg.toml": SMALL + '[privacy]\nlevel = "client"\nnoise_multiplier = -1.0\n',
    "byz_half.toml": SMALL.replace("num_clients = 4", "num_clients = 20")
    + '[byzantine]\nnum_byzantine = 10\nattack = "sign_flip"\naggregator = "cwtm"\n',
    "byz_all.toml": SMALL.replace("num_clients = 4", "num_clients = 20")
    + '[byzantine]\nnum_byzantine = 20\nattack = "sign_flip"\naggregator = "cwtm"\n',
    "byz_noattack.toml": SMALL + "[byzantine]\nnum_byzantine = 1\n",
    "agg_nope.toml": SMALL + '[byzantine]\nnum_byzantine = 1\nattack = "sign_flip"\n'
                             'aggregator = "nope"\n',
    "attack_nope.toml": SMALL + '[byzantine]\nnum_byzantine = 1\nattack = "nope"\n',
    "section_scalar.toml": SMALL + "mixup = 3\n",
    "compress_nope.toml": SMALL + '[compression]\nname = "zip"\n',
    "leak_attack.toml": 'name = "x"\n[recipes]\n[grid]\nattacks = ["nope"]\n[grid.defenses]\ndp = [0.0]\n',
    "leak_seeds.toml": 'name = "x"\n[recipes]\nsource = "leakage_source"\n[grid]\n'
                       'attacks = ["source"]\nseeds = []\n[grid.defenses]\ndp = [0.0]\n',
    "leak_figure.toml": 'name = "x"\n[recipes]\nsource = "leakage_source"\n[grid]\n'
                        'attacks = ["source"]\nfigures = ["pie"]\n[grid.defenses]\ndp = [0.0]\n',
    "leak_old.toml": 'name = "x"\nattacks = ["source"]\nclip = 1.0\n[defenses]\ndp = [0.0]\n',
    "leak_norecipe.toml": 'name = "x"\n[recipes]\n[grid]\nattacks = ["source"]\n[grid.defenses]\ndp = [0.0]\n',
    "leak_badrecipe.toml": 'name = "x"\n[recipes]\nsource = {data = {name = "synthetic_logistic"}, '
                           'training = {momentum = 0.9}}\n[grid]\nattacks = ["source"]\n[grid.defenses]\ndp = [0.0]\n',
    "corrupt.json": '{"checks": [1, 2',
    "list.json": "[1, 2, 3]",
    "novalidation.json": '{"name": "x"}',
}
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    for name, text in FILES.items():
        (d / name).write_text(text)
    (d / "binary.toml").write_bytes(BINARY)
    (d / "binary.json").write_bytes(BINARY)
    (d / "a_file").write_text("I am a file\n")
    prev = d / "prev_run"
    prev.mkdir()
    (prev / "result.json").write_text("{}")
    (prev / "eavesdropper.json").write_text("{}")       # an earlier leakage sweep
    runs = d / "corrupt_runs" / "seed_0"
    runs.mkdir(parents=True)
    (runs / "result.json").write_text("{not json")
    wrong = d / "wrong_runs"
    wrong.mkdir()
    (wrong / "result.json").write_text('{"name": "x"}')
    return d


# ------------------------------------------------------------------------------------ CLI cases
EPS = "epsilon --sampling-rate 0.01 --noise-multiplier 1.0 --steps 1000 --delta 1e-5"
CAL = "calibrate --target-epsilon 3 --sampling-rate 0.01 --steps 1000 --delta 1e-5"

CLI = [
    # fltheory itself
    ("nope", "invalid choice"),
    ("--bogus", "unrecognized arguments"),
    # epsilon
    (EPS.replace("0.01", "1.5"), "sampling_rate"),
    (EPS.replace("0.01", "-0.1"), "sampling_rate"),
    (EPS.replace("0.01", "abc"), "sampling_rate"),
    (EPS.replace("0.01", "nan"), "sampling_rate"),
    (EPS.replace("--noise-multiplier 1.0", "--noise-multiplier 0"), "noise_multiplier"),
    (EPS.replace("--noise-multiplier 1.0", "--noise-multiplier -1"), "noise_multiplier"),
    (EPS.replace("--noise-multiplier 1.0", "--noise-multiplier inf"), "noise_multiplier"),
    (EPS.replace("--steps 1000", "--steps 0"), "steps"),
    (EPS.replace("--steps 1000", "--steps 1.5"), "steps"),
    (EPS.replace("--steps 1000", "--steps -3"), "steps"),
    (EPS.replace("--steps 1000", ""), "steps"),
    (EPS.replace("1e-5", "-1e-5"), "delta"),
    (EPS.replace("1e-5", "1.5"), "delta"),
    (EPS.replace("1e-5", "0"), "delta"),
    (EPS.replace("1e-5", "x"), "delta"),
    (EPS + " --method foo", "method"),
    (EPS + " --neighboring foo", "neighboring"),
    (EPS + " --scenario nope", "scenario"),
    (EPS.replace(" --delta 1e-5", " --epsilon -1"), "epsilon"),
    # calibrate
    (CAL.replace("--target-epsilon 3", "--target-epsilon -1"), "target_epsilon"),
    (CAL.replace("--target-epsilon 3", "--target-epsilon 0"), "target_epsilon"),
    (CAL + " --solve-for foo", "no parameter 'foo'"),
    (CAL.replace("1e-5", "-1e-5"), "delta"),
    (CAL.replace("--sampling-rate 0.01", "--sampling-rate 2"), "sampling_rate"),
    # bound
    ("bound nope", "invalid choice"),
    ("bound kappa --aggregator foo", "aggregator"),
    ("bound kappa --n 0 --f 0", "n"),
    ("bound kappa --n 20 --f -1", "f"),
    ("bound kappa --n 20 --f 10", "f"),
    ("bound kappa --n 2.5 --f 1", "n"),
    ("bound kappa --n abc", "--n"),
    ("bound min-batch-size --d 0", "d"),
    ("bound min-batch-size --d -5", "d"),
    ("bound min-batch-size --d 1e6 --epsilon 0", "epsilon"),
    ("bound min-batch-size --d 1e6 --delta 2", "delta"),
    ("bound min-batch-size --d 1e6 --delta -1e-5", "delta"),
    ("bound min-batch-size --d 1e6 --aggregator nope", "aggregator"),
    ("bound min-batch-size --d 1e6 --k 0", "k"),
    ("bound min-batch-size --d 1e6 --clip -1", "clip"),
    ("bound min-batch-size", "--d"),
    ("bound vn-threshold --route x", "--route"),
    ("bound vn-threshold --aggregator nope", "aggregator"),
    ("bound error-floor --B -1", "B"),
    ("bound error-floor --G -1", "G"),
    ("bound compressor --kind foo --d 100", "kind"),
    ("bound compressor --kind randk --d 100 --k 200", "k"),
    ("bound compressor --kind randk --d 0 --k 1", "d"),
    ("bound compressor --kind qsgd --d 100 --levels 0", "levels"),
    ("bound cost --d 0", "d"),
    ("bound cost --d 100 --aggregator foo", "aggregator"),
    # tradeoff
    ("tradeoff --d 0", "d"),
    ("tradeoff --d 1e6 --k 0", "k"),
    ("tradeoff --d 1e6 --k 2e6", "k"),
    ("tradeoff --d 1e6 --modes foo", "modes"),
    ("tradeoff --d 1e6 --objectives foo", "objectives"),
    ("tradeoff --d 1e6 --epsilon -1", "epsilon"),
    ("tradeoff --d 1e6 --delta -1e-5", "delta"),
    ("tradeoff --d 1e6 --batch-size 0", "batch"),
    ("tradeoff --d 1e6 --rounds 0", "rounds"),
    ("tradeoff --d 1e6 --clip 0", "clip"),
    ("tradeoff --d 1e6 --noise-multiplier -2", "noise_multiplier"),
    ("tradeoff --d 1e6 --out {d}/a_file", "a_file"),
    # plot
    ("plot nosuchfigure", "figure"),
    ("plot min-batch-size --seeds 0..2 --out {d}/fig", "--seeds"),
    ("plot runs --out {d}/fig", "--from"),
    ("plot runs --from {d}/nonexistent --out {d}/fig", "run_dir"),
    ("plot runs --from {d}/corrupt_runs --out {d}/fig", "result.json"),
    ("plot runs --from {d}/wrong_runs --out {d}/fig", "result.json"),
    ("plot validation --from {d}/corrupt.json --out {d}/fig", "corrupt.json"),
    ("plot validation --from {d}/binary.json --out {d}/fig", "binary.json"),
    ("plot validation --from {d}/list.json --out {d}/fig", "list.json"),
    ("plot validation --from {d}/novalidation.json --out {d}/fig", "novalidation.json"),
    ("plot validation --from {d}/missing.json --out {d}/fig", "missing.json"),
    ("plot byzantine-attacks --jobs 0 --out {d}/fig", "jobs"),
    ("plot byzantine-attacks --from {d}/corrupt.json --seeds 0..1 --out {d}/fig", "--from"),
    ("plot byzantine-attacks --from {d}/corrupt.json --out {d}/fig", "corrupt.json"),
    ("plot min-batch-size --out {d}/a_file", "a_file"),
    ("plot min-batch-size --out /dev/null/x", "/dev/null/x"),
    # report
    ("report --section nope --out {d}/rep", "section"),
    ("report --full --out {d}/rep", "--full"),
    ("report {d}/missing.toml --out {d}/rep", "missing.toml"),
    ("report {d}/empty.toml --out {d}/rep", "empty.toml"),
    ("report {d}/binary.toml --out {d}/rep", "binary.toml"),
    ("report {d}/badkey.toml --out {d}/rep", "bogus_key"),
    ("report --out {d}/a_file", "a_file"),
    ("report --seed x", "--seed"),
    # validate
    ("validate {d}/missing.toml", "missing.toml"),
    ("validate {d}/empty.toml", "empty.toml"),
    ("validate {d}/comment_only.toml", "comment_only.toml"),
    ("validate {d}/binary.toml", "binary.toml"),
    ("validate {d}/badsyntax.toml", "badsyntax.toml"),
    ("validate {d}/badkey.toml", "bogus_key"),
    ("validate {d}/cfg.toml --noise-scale -1", "noise_scale"),
    ("validate {d}/cfg.toml --noise-scale 0", "noise_scale"),
    ("validate {d}/cfg.toml --out {d}/a_file", "a_file"),
    ("validate {d}/cfg.toml --out /dev/null/x", "/dev/null/x"),
    ("validate", "config"),
    # run
    ("run {d}/cfg.toml --out /dev/null/x", "/dev/null/x"),
    ("run {d}/cfg.toml --out {d}/a_file", "a_file"),
    ("run {d}/cfg.toml --out {d}/prev_run", "--overwrite"),
    ("run {d}/cfg.toml", "--out"),
    ("run {d}/empty.toml --out {d}/r", "empty.toml"),
    ("run {d}/comment_only.toml --out {d}/r", "comment_only.toml"),
    ("run {d}/binary.toml --out {d}/r", "binary.toml"),
    ("run {d}/badsyntax.toml --out {d}/r", "badsyntax.toml"),
    ("run {d}/missing.toml --out {d}/r", "missing.toml"),
    ("run {d}/badkey.toml --out {d}/r", "bogus_key"),
    ("run {d}/rounds_str.toml --out {d}/r", "training.rounds"),
    ("run {d}/rounds0.toml --out {d}/r", "training.rounds"),
    ("run {d}/lr_neg.toml --out {d}/r", "training.lr"),
    ("run {d}/clients0.toml --out {d}/r", "data.num_clients"),
    ("run {d}/data_nope.toml --out {d}/r", "data.name"),
    ("run {d}/model_nope.toml --out {d}/r", "model.name"),
    ("run {d}/seed_neg.toml --out {d}/r", "seed"),
    ("run {d}/device_tpu.toml --out {d}/r", "device"),
    ("run {d}/privacy_foo.toml --out {d}/r", "privacy.level"),
    ("run {d}/noise_neg.toml --out {d}/r", "privacy.noise_multiplier"),
    ("run {d}/byz_half.toml --out {d}/r", "byzantine.num_byzantine"),
    ("run {d}/byz_all.toml --out {d}/r", "byzantine.num_byzantine"),
    ("run {d}/byz_noattack.toml --out {d}/r", "byzantine.attack"),
    ("run {d}/agg_nope.toml --out {d}/r", "aggregator"),
    ("run {d}/attack_nope.toml --out {d}/r", "attack"),
    ("run {d}/section_scalar.toml --out {d}/r", "mixup"),
    ("run {d}/compress_nope.toml --out {d}/r", "compression.name"),
    ("run {d}/cfg.toml --out {d}/r --seeds 0..x", "seeds"),
    ("run {d}/cfg.toml --out {d}/r --seeds abc", "seeds"),
    ("run {d}/cfg.toml --out {d}/r --seeds 0..2 --jobs 0", "jobs"),
    ("run {d}/cfg.toml --out {d}/r --seeds 0..1 --resume", "--resume"),
    # leakage
    ("leakage {d}/missing.toml --out {d}/leak", "missing.toml"),
    ("leakage {d}/leak_attack.toml --out {d}/leak", "attack"),
    ("leakage {d}/leak_seeds.toml --out {d}/leak", "seeds"),
    ("leakage {d}/leak_figure.toml --out {d}/leak", "figures"),
    ("leakage {d}/leak_old.toml --out {d}/leak", "leak_old.toml: the leakage format"),
    ("leakage {d}/leak_norecipe.toml --out {d}/leak", "no recipe for attack 'source'"),
    ("leakage {d}/leak_badrecipe.toml --out {d}/leak", "training.momentum"),
    ("leakage experiments/leakage/eavesdropper.toml --jobs 0 --out {d}/leak", "--jobs"),
    ("leakage {d}/empty.toml --out {d}/leak", "empty.toml"),
    ("leakage {d}/binary.toml --out {d}/leak", "binary.toml"),
    ("leakage experiments/leakage/eavesdropper.toml --out {d}/a_file", "a_file"),
    ("leakage experiments/leakage/eavesdropper.toml --out {d}/prev_run", "--overwrite"),
]


@pytest.mark.parametrize("cmd, needle", CLI, ids=[c for c, _ in CLI])
def test_cli_bad_input(cmd, needle, files, capsys):
    argv = shlex.split(cmd.format(d=files))
    rc = main(argv)
    out = capsys.readouterr()
    err = out.err.strip()
    assert rc == 2, (rc, out.out[-500:], err)
    assert "Traceback" not in err and "Traceback" not in out.out
    assert len(err.splitlines()) == 1, err
    assert needle.format(d=files) in err, err
    # nothing was trained or written for a run that was refused
    assert not (files / "r" / "result.json").exists()


def test_rerun_is_refused_then_overwritten_on_request(files, capsys):
    out = files / "rerun"
    assert main(["run", str(files / "cfg.toml"), "--out", str(out), "--quiet"]) == 0
    first = (out / "result.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", str(files / "cfg.toml"), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "result.json").stat().st_mtime_ns == first          # untouched
    assert main(["run", str(files / "cfg.toml"), "--out", str(out), "--overwrite",
                 "--quiet"]) == 0
    assert (out / "result.json").stat().st_mtime_ns != first


# ------------------------------------------------------------------------------------ API cases
def _acc():
    from fltheory import accounting as a

    return a


def _b():
    from fltheory import bounds as b

    return b


EV = lambda: _acc().dp_sgd(0.01, 1.0, 100)  # noqa: E731

API = [
    ("epsilon delta<0", lambda: _acc().epsilon(EV(), delta=-1e-5), "delta"),
    ("epsilon delta=1", lambda: _acc().epsilon(EV(), delta=1.0), "delta"),
    ("epsilon delta nan", lambda: _acc().epsilon(EV(), delta=float("nan")), "delta"),
    ("epsilon method", lambda: _acc().epsilon(EV(), delta=1e-5, method="foo"), "method"),
    ("epsilon neighboring", lambda: _acc().epsilon(EV(), delta=1e-5, neighboring="x"),
     "neighboring"),
    ("epsilon not an event", lambda: _acc().epsilon("dp_sgd", delta=1e-5), "event"),
    ("delta epsilon<0", lambda: _acc().delta(EV(), epsilon=-1.0), "epsilon"),
    ("dp_sgd q>1", lambda: _acc().dp_sgd(1.5, 1.0, 10), "sampling_rate"),
    ("dp_sgd q<0", lambda: _acc().dp_sgd(-0.1, 1.0, 10), "sampling_rate"),
    ("dp_sgd z<0", lambda: _acc().dp_sgd(0.01, -1.0, 10), "noise_multiplier"),
    ("dp_sgd z=0", lambda: _acc().dp_sgd(0.01, 0.0, 10), "noise_multiplier"),
    ("dp_sgd T=0", lambda: _acc().dp_sgd(0.01, 1.0, 0), "steps"),
    ("dp_sgd T float", lambda: _acc().dp_sgd(0.01, 1.0, 2.5), "steps"),
    ("dp_sgd sampling", lambda: _acc().dp_sgd(0.01, 1.0, 10, sampling="foo"), "sampling"),
    ("dp_sgd shuffle refused", lambda: _acc().dp_sgd(0.01, 1.0, 10, sampling="shuffle"),
     "shuffle"),
    ("calibrate target<0", lambda: _acc().calibrate_noise(
        lambda z: _acc().dp_sgd(0.01, z, 100), target_epsilon=-1.0, delta=1e-5),
     "target_epsilon"),
    ("calibrate delta", lambda: _acc().calibrate_noise(
        lambda z: _acc().dp_sgd(0.01, z, 100), target_epsilon=1.0, delta=2.0), "delta"),
    ("epsilon_grid q", lambda: _acc().epsilon_grid(sampling_rate=[0.01, 2.0],
                                                  noise_multiplier=1.0, steps=10, delta=1e-5),
     "sampling_rate"),
    ("dp_fedavg rate", lambda: _acc().dp_fedavg(2.0, 1.0, 10), "client_rate"),
    ("dp_fedavg rounds", lambda: _acc().dp_fedavg(0.1, 1.0, 0), "rounds"),
    ("shuffled eps", lambda: _acc().shuffled(-1.0, 100), "epsilon"),
    ("shuffled n", lambda: _acc().shuffled(1.0, 0), "num_clients"),
    ("kappa rule", lambda: _b().kappa("foo", n=20, f=4), "aggregator"),
    ("kappa f>=n/2", lambda: _b().kappa("cwtm", n=20, f=10), "f"),
    ("kappa n=0", lambda: _b().kappa("cwtm", n=0, f=0), "n"),
    ("kappa f<0", lambda: _b().kappa("cwtm", n=20, f=-1), "f"),
    ("kappa_bound rule", lambda: _b().kappa_bound("foo"), "aggregator"),
    ("min_batch_size d", lambda: _b().min_batch_size(d=0, epsilon=1.0, delta=1e-5), "d"),
    ("min_batch_size eps", lambda: _b().min_batch_size(d=100, epsilon=-1.0, delta=1e-5),
     "epsilon"),
    ("min_batch_size delta", lambda: _b().min_batch_size(d=100, epsilon=1.0, delta=0.0),
     "delta"),
    ("compressor kind", lambda: _b().compressor_variance("foo", 100, 10), "kind"),
    ("compressor k>d", lambda: _b().compressor_variance("randk", 10, 20), "k"),
    ("bits k=0", lambda: _b().bits_per_round("randk", 10, 0), "k"),
    ("cost rule", lambda: _b().aggregation_cost("foo", n=20, f=4, d=100), "aggregator"),
    ("cost d", lambda: _b().aggregation_cost("cwtm", n=20, f=4, d=0), "d"),
]


def _config_cases():
    from fltheory.config import ExperimentConfig, load_config

    return [
        ("config unknown key", lambda: ExperimentConfig.from_dict({"foo": 1}), "foo"),
        ("config section not a table", lambda: ExperimentConfig.from_dict({"data": 3}), "data"),
        ("config not a dict", lambda: ExperimentConfig.from_dict([1]), "configuration"),
        ("config f>=n", lambda: load_config({"data": {"num_clients": 4}, "byzantine": {
            "num_byzantine": 4, "attack": "sign_flip"}}), "byzantine.num_byzantine"),
        ("config lr<0", lambda: load_config({"training": {"lr": -1.0}}), "training.lr"),
    ]


def _fl_cases():
    from fltheory.config import load_config
    from fltheory.fl import aggregators, attacks, compressors, simulate
    from fltheory.sweep import run_sweep

    return [
        ("aggregators.get", lambda: aggregators.get("nope"), "nope"),
        ("aggregators f<0", lambda: aggregators.get("cwtm", f=-1), "f"),
        ("attacks.get", lambda: attacks.get("nope"), "nope"),
        ("compressors.get", lambda: compressors.get("nope"), "nope"),
        ("simulate f capped", lambda: simulate(load_config({
            "data": {"name": "digits", "num_clients": 20}, "training": {"rounds": 1},
            "byzantine": {"num_byzantine": 10, "attack": "sign_flip",
                          "aggregator": "cwtm"}})), "byzantine.num_byzantine"),
        ("run_sweep seeds", lambda: run_sweep({"training": {"rounds": 1}}, "x"), "seeds"),
        ("run_sweep jobs", lambda: run_sweep({"training": {"rounds": 1}}, "0..1", jobs=0),
         "jobs"),
    ]


@pytest.mark.parametrize("case", range(len(API)), ids=[c[0] for c in API])
def test_api_bad_input(case):
    _, fn, needle = API[case]
    with pytest.raises(ValueError) as exc:
        fn()
    assert needle in str(exc.value), str(exc.value)


@pytest.mark.parametrize("which", ["config", "fl"])
def test_api_bad_input_config_and_engine(which):
    cases = _config_cases() if which == "config" else _fl_cases()
    for name, fn, needle in cases:
        with pytest.raises(ValueError) as exc:
            fn()
        assert needle in str(exc.value), (name, str(exc.value))


def test_api_files_are_named(files):
    from fltheory._io import check_out_dir
    from fltheory.config import load_config
    from fltheory.plots.experiments import load_results

    for name in ("empty.toml", "binary.toml", "badsyntax.toml", "missing.toml",
                 "comment_only.toml"):
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            load_config(files / name)
    for name in ("corrupt.json", "binary.json", "list.json"):
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            load_results(files / name)
    with pytest.raises(ValueError, match="a_file"):
        check_out_dir(files / "a_file")
    with pytest.raises(ValueError, match="overwrite"):
        check_out_dir(files / "prev_run", holds="result.json")


def test_catalogue_size():
    n = len(CLI) + len(API) + len(_config_cases()) + len(_fl_cases()) + 5 + 3 + 2
    assert n >= 120


def test_missing_torch_is_one_line(tmp_path):
    """Without torch: validate, plot byzantine-attacks, report --validate, run say which extra
    to install (exit 2, one line); without joblib, run --seeds does."""
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL)
    block = ("import sys\n"
             "class _Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in {mods!r}:\n"
             "            raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)\n"
             "sys.meta_path.insert(0, _Block())\n"
             "from fltheory.cli import main\n"
             "sys.exit(main({argv!r}))\n")
    cases = [
        (["torch"], ["validate", str(cfg)], "fl"),
        (["torch"], ["plot", "byzantine-attacks", "--out", str(tmp_path / "f")], "fl"),
        (["torch"], ["report", "--validate", "--out", str(tmp_path / "rep")], "fl"),
        (["torch"], ["run", str(cfg), "--out", str(tmp_path / "r")], "fl"),
        (["torch"], ["leakage", "experiments/leakage/eavesdropper.toml", "--out",
                     str(tmp_path / "l")], "fl"),
        (["joblib"], ["run", str(cfg), "--out", str(tmp_path / "s"), "--seeds", "0..1"],
         "joblib"),
    ]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for mods, argv, needle in cases:
        res = subprocess.run([sys.executable, "-c", block.format(mods=mods, argv=argv)],
                             capture_output=True, text=True, timeout=300, cwd=root)
        err = res.stderr.strip()
        assert res.returncode == 2, (argv, err[-800:])
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "pip install 'fltheory[fl]'" in err and needle in err, err


def test_validate_result_json_roundtrip_is_not_needed_for_errors(files):
    # a valid JSON but not a validation.json is refused with its name (not drawn as empty)
    assert json.loads((files / "novalidation.json").read_text()) == {"name": "x"}
