import json

from gankit.cli import main


def test_optimal_d_matches_the_analytic_discriminator(tmp_path, capsys):
    """A trained MLP D matches D* = p_data / (p_data + p_g) (measured max error 0.021, bar 0.05) and its
    value V(D, G) reaches C(G) = -log 4 + 2 JSD."""
    assert main(["lab", "optimal-d", "--out", str(tmp_path)]) == 0
    assert "matches D*" in capsys.readouterr().out
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["max_abs_error"] < 0.05
    for case in summary["cases"]:
        assert case["value_learned"] <= case["c_of_g"] + 1e-9  # C(G) is the maximum of V
        assert case["c_of_g"] - case["value_learned"] < 0.005
    assert (tmp_path / "optimal_d.png").exists()


def test_unknown_experiment_lists_the_valid_ones(capsys, tmp_path):
    assert main(["lab", "optimal_d", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'optimal_d' (did you mean 'optimal-d'?)" in capsys.readouterr().err
