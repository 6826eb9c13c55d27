# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5.4 ALIGNN：原子グラフと線グラフ
#
# CGCNN の結晶グラフは、原子（ノード）と原子間の距離（エッジ）しか見ません。しかし物性は結合の **角度** にも強く依存します（正四面体配位と平面四配位では、同じ距離でも電子状態が違います）。ALIGNN（Atomistic Line Graph Neural Network）{cite}`choudhary2021alignn` は、結合をノード、結合の対をエッジとする **線グラフ** を原子グラフと一緒に更新し、角度の情報を明示的に扱います。この節では、実在の結晶で線グラフを組み立てて角度を確かめ、角度を使わない簡易版と完全版を同じ条件で比べます。
#
# ```{admonition} 対象読者と学習目標
# :class: tip
# 前提：{doc}`05_1_design`、第4章の CGCNN。この節を終えると、
# - 原子グラフと線グラフの違いを、実際の結晶の例で説明できる
# - 線グラフのエッジ特徴量（結合角の余弦）を計算し、素朴な計算と一致することを確かめられる
# - ALIGNN 層（線グラフでの更新 → 原子グラフでの更新）の流れを式で説明できる
# - 角度を使わない簡易版と完全版の差を、精度と計算時間の両面で評価できる
# ```

# %% [markdown]
# ## この節の実行方法
#
# 次のセルは Google Colab で開いたときだけ、この本のパッケージ `hybridlib`（Materials Project の実データのサンプルを同梱）をリポジトリから入れます。Colab の PyTorch はそのまま使い、手元の環境では何もしません。プロファイルを指定しなければ数分で終わる `ci` プロファイルで実行され、数値を出したプロファイルはこのあとの出力に表示されます（本のページは `book` プロファイルの結果です。詳しくは {doc}`../book/setup`）。

# %% tags=["hide-cell", "remove-output"]
import sys
if "google.colab" in sys.modules:
    # %pip install -q "hybridlib @ git+https://github.com/OWNER/hybrid-book"

# %% [markdown]
# 乱数の種を固定し、プロファイルとデータを読み込みます。

# %%
import numpy as np
import pandas as pd

import hybridlib as hl

hl.setup(seed=0)
profile = hl.config.get_profile()
sample = hl.data.load_mp_sample()
print(f"profile = {profile.name}")

# %% [markdown]
# ## 5.4.1 原子グラフと線グラフ
#
# 原子グラフ $G_{\text{atom}} = (V_{\text{atom}}, E_{\text{atom}})$ のノードは原子、エッジは近接原子の対（本書では 8 Å 以内の最近接 12 個、周期境界を考慮）です。線グラフ $G_{\text{line}} = (V_{\text{line}}, E_{\text{line}})$ では、原子グラフの **エッジ（結合）がノード** になり、原子を共有する結合の対 $(j \to i,\ i \to k)$ がエッジになります。そのエッジの特徴量が結合角 $\theta_{jik}$ の余弦です。
#
# $$\cos\theta_{jik} = \frac{\mathbf{r}_{ij} \cdot \mathbf{r}_{ik}}{\lVert \mathbf{r}_{ij} \rVert\, \lVert \mathbf{r}_{ik} \rVert}$$
#
# 実際の結晶で確かめます。ウルツ鉱型の ZnS（単位胞 4 原子）では、各原子が 4 個の異種原子に正四面体的に囲まれています。

# %%
row = sample.set_index("material_id").loc["mp-560588"]
structure = row["structure"]
graph = hl.graphs.crystal_graph(structure, line_graph=True)
a, b, c = structure.lattice.abc
print(f"{row['formula']}: a = {a:.3f} Å, b = {b:.3f} Å, c = {c:.3f} Å")
print(f"atoms {graph.num_nodes}, "
      f"bonds (atom-graph edges) {graph.edge_index.shape[1]}, "
      f"bond pairs (line-graph edges) {graph.lg_edge_index.shape[1]}")

# %% tags=["remove-cell"]
hl.glue("fig-line-graph-54", hl.plots.crystal_and_line_graph(graph, structure), display=False)
hl.glue("n_bonds_54", int(graph.edge_index.shape[1]))
hl.glue("n_pairs_54", int(graph.lg_edge_index.shape[1]))

# %% [markdown]
# ```{glue:figure} fig-line-graph-54
# :name: fig-line-graph-54
# ZnS（mp-560588）の原子グラフ（左）と線グラフ（右）。線グラフのノードは原子グラフの結合、エッジの色は結合角の余弦です。
# ```
#
# わずか 4 原子の単位胞でも、結合は {glue:text}`n_bonds_54` 本、結合の対は {glue:text}`n_pairs_54` 組あります。線グラフは原子グラフよりずっと大きく、これが ALIGNN の計算コストの源です。

# %% [markdown]
# 第一近接（Zn–S 結合、約 2.3–2.4 Å）だけの角度を表にします。正四面体なら $\cos\theta = -1/3$（約 109.5°）になるはずです。

# %%
angles = hl.graphs.bond_angle_table(graph, structure)
short_bonds = (angles["d_ij"] < 2.5) & (angles["d_ik"] < 2.5)
first_shell = angles[short_bonds & (angles["angle_deg"] > 1)]
hl.tables.show(first_shell.head(8))

# %% tags=["remove-cell"]
assert np.allclose(first_shell["cos"], -1 / 3, atol=0.02), first_shell["cos"].describe()
hl.glue("mean_angle_54", float(first_shell["angle_deg"].mean()))

# %% [markdown]
# 第一近接の結合角は平均 {glue:text}`mean_angle_54:.1f`° で、ほぼ理想的な正四面体角です（ウルツ鉱型はわずかに歪んでいます）。元の教材の演習 3 の例「H–O–H 角 104.5° → cos ≈ −0.25」は正しい値ですが、分子の例なので、本書では結晶で確かめました。これらの余弦は、素朴な三重ループ（`hl.graphs.reference_line_graph`）と一致することをテストで確認しています。

# %% [markdown]
# ## 5.4.2 ALIGNN の構造
#
# {numref}`fig-alignn-54` が ALIGNN の全体像です。

# %% tags=["remove-cell"]
hl.glue("fig-alignn-54", hl.plots.alignn_architecture(), display=False)

# %% [markdown]
# ```{glue:figure} fig-alignn-54
# :name: fig-alignn-54
# ALIGNN の構造（元の教材の図を描き直したもの）。
# ```
#
# 中心となる部品は、Bresson と Laurent のゲート付きグラフ畳み込み {cite}`bresson2017gated` を使う **edge-gated graph convolution** です。エッジ $e_{ij}$ の更新量からゲート $\eta_{ij}$ を作り、受け手ごとに正規化してメッセージを重み付けします。
#
# $$
# \begin{aligned}
# \hat{e}_{ij} &= A x_i + B x_j + C e_{ij}, \\
# \eta_{ij} &= \frac{\sigma(\hat{e}_{ij})}{\sum_k \sigma(\hat{e}_{ik}) + \epsilon}, \\
# x_i' &= x_i + \mathrm{SiLU}\Big(\mathrm{BN}\big(U x_i + \sum_j \eta_{ij} \odot V x_j\big)\Big)
# \end{aligned}
# $$
#
# **ALIGNN 層** は、まず線グラフ上でこの畳み込みを行って「結合の特徴量」と「結合角の特徴量」を更新し、更新された結合の特徴量を原子グラフのエッジ特徴量として、原子グラフ上で同じ畳み込みを行います。こうして角度の情報が結合を経由して原子に伝わります。論文の構成 {cite}`choudhary2021alignn` は ALIGNN 層 4 つの後に原子グラフだけの層 4 つ、隠れ次元 256 です。このページでは CPU で動かせるように、プロファイルに応じて縮小します。
#
# 二つの実装上の選択をはっきりさせておきます。
#
# - **層の中の順序**：本書の `ALIGNNLayer` の既定は論文の説明どおり「線グラフ → 原子グラフ」（`order="line_first"`）です。公式実装の現在のコード（`ALIGNNConv`）は逆に「原子グラフ → 線グラフ」の順に更新します（`order="atom_first"` で選べます）。下の出力の `order` が、このページで実際に動いている順序です。
# - **無向グラフ**：「各原子の近い順に 12 個」で作ったエッジは対称ではありません（$j$ が $i$ の 12 近傍に入っても、$i$ が $j$ の 12 近傍に入るとは限りません）。ALIGNN の参照実装は逆向きのエッジを補って無向グラフにしてから線グラフを作るので、本書の ALIGNN も同じく `GraphParams(undirected=True)` のグラフで学習します（CGCNN と簡易版は有向のままです）。

# %%
model = hl.models.ALIGNN.from_profile(profile)
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))

# %% [markdown]
# 有向のエッジのうち、逆向きのエッジを持たないものがどれだけあるかを、このページのデータの一部で数えます。

# %%
directed, undirected, in_degree = 0, 0, []
for structure in sample["structure"].iloc[:300]:
    edges = hl.graphs.neighbor_edges(structure)
    directed += len(edges.src)
    in_degree += np.bincount(edges.dst).tolist()
    params = hl.graphs.GraphParams(undirected=True)
    undirected += len(hl.graphs.neighbor_edges(structure, params).src)
print(f"directed {directed}, undirected {undirected}: "
      f"{100 * (undirected - directed) / directed:.1f} % reverse edges added")

# %% tags=["remove-cell"]
hl.glue("order_54", model.order)
hl.glue("added_reverse_54", 100 * (undirected - directed) / directed)
in_degree = np.asarray(in_degree)
hl.glue("share_12_15_54", 100 * float(((in_degree >= 12) & (in_degree <= 15)).mean()))
assert model.order == "line_first" and undirected > directed

# %% [markdown]
# 300 物質では、有向エッジの {glue:text}`added_reverse_54:.1f` % に当たる逆向きのエッジが補われました。
#
# 元の教材のコード例 3 は「ALIGNN 簡易実装」と称して、線グラフを使わない残差付きメッセージパッシングを示していました。これは `hl.models.ALIGNNSimple` として残し、完全版との違い（角度の有無）を測る比較対象にします。

# %% [markdown]
# ## 5.4.3 性能の比較
#
# CGCNN、ALIGNN 簡易版、ALIGNN 完全版を、同じ分割・同じ学習設定で学習した結果です（実行結果のレジストリから読み出します）。

# %% tags=["remove-output", "nbval-ignore-output"]
table = hl.tables.metrics_table(["cgcnn", "alignn_simple", "alignn"],
                                "e_form", profile)

# %%
hl.tables.show(table, ["model", "mae", "rmse", "r2", "train_time_s"])

# %% tags=["remove-cell"]
mae = table.set_index("experiment")["mae"]
seconds = table.set_index("experiment")["train_time_s"]
hl.glue("mae_cgcnn_54", mae["cgcnn"])
hl.glue("mae_simple_54", mae["alignn_simple"])
hl.glue("mae_alignn_54", mae["alignn"])
hl.glue("time_ratio_54", seconds["alignn"] / seconds["cgcnn"])

# %% [markdown]
# 平均の誤差だけでなく、学習の経過も確かめます。どのモデルも同じステップ数のスケジュールを最後まで走らせ、検証 MAE が最小だったエポックの重みを使います。

# %% tags=["remove-output", "nbval-ignore-output"]
from hybridlib.report import training_plots

NAMES = {n: hl.tables.MODELS[n][0]
         for n in ("cgcnn", "alignn_simple", "alignn")}
summary = training_plots.training_summary(NAMES, profile, labels=NAMES)

# %%
hl.tables.show(summary, columns=["model", "mae", "best_epoch", "epochs_run",
                                "steps_run", "train_time_s"])

# %% tags=["remove-cell"]
assert (summary["steps_run"] >= profile.training.steps).all()
simple = hl.experiments.run("alignn_simple", profile).extra
hl.glue("simple_best_54", simple["best_epoch"])
hl.glue("simple_run_54", simple["epochs_run"])
hl.glue("alignn_vs_cgcnn_54", 100 * (mae["alignn"] / mae["cgcnn"] - 1))
hl.glue("simple_vs_cgcnn_54", 100 * (mae["alignn_simple"] / mae["cgcnn"] - 1))

# %% [markdown]
# このページの実行では、テスト MAE は CGCNN {glue:text}`mae_cgcnn_54:.4f`、簡易版 {glue:text}`mae_simple_54:.4f`、完全版 {glue:text}`mae_alignn_54:.4f` eV/atom でした（CGCNN に対して簡易版 {glue:text}`simple_vs_cgcnn_54:+.1f` %、完全版 {glue:text}`alignn_vs_cgcnn_54:+.1f` %）。完全版の学習時間は CGCNN の {glue:text}`time_ratio_54:.1f` 倍です。
#
# ### 簡易版はなぜ不安定に見えたのか：測って確かめる
#
# 以前の版の本書では、簡易版は検証 MAE が振動して数エポックで早期終了し、最良の重みはごく初期のエポックのものでした。その原因を「近接原子の数が物質ごとに違うので、和の大きさがばらつく」と説明していましたが、これは成り立ちません。上で数えた 300 物質では原子の {glue:text}`share_12_15_54:.0f` % が 12〜15 本のエッジを受け取っていて、CGCNN も同じ「和を取ってからバッチ正規化」で学習するからです。
#
# そこで、学習中のエポックごとに二つのことを測りました（`hl.train.diagnostics`）。一つは、**同じ重みのまま、バッチ正規化の統計量だけを訓練データ全体で計算し直した** ときの検証 MAE です。バッチ正規化は、学習中はそのバッチの平均・分散で、評価時は学習中に更新した移動平均で正規化します。重みが速く動くと移動平均が追いつかず、評価しているモデルと学習しているモデルがずれます。もう一つは、各バッチ正規化に **入ってくる値の標準偏差** です。CGCNN でも後者を測っています。

# %% tags=["remove-output", "nbval-ignore-output"]
runs = {name: hl.experiments.run(name, profile).extra["history"]
        for name in ("alignn_simple", "cgcnn")}
history = pd.DataFrame(runs["alignn_simple"])
for column in ("val_mae", "val_mae_recalibrated"):
    history[column] = history[column].str[0]


def noise(rows, part):
    """Mean |change of log val MAE| per epoch, in the first or second half."""
    v = np.log([r["val_mae"][0] for r in rows])
    half = len(v) // 2
    return float(np.abs(np.diff(v[:half] if part == 0 else v[half:])).mean())


diagnosis = pd.DataFrame({
    name: {"noise_first": noise(rows, 0), "noise_second": noise(rows, 1),
           "bn_input_std_max": max(max(r["bn_input_std"]) for r in rows)}
    for name, rows in runs.items()}).T

# %%
hl.tables.show(diagnosis.rename(index=NAMES).rename_axis("model"),
               labels={"noise_first": "揺れ（前半）",
                       "noise_second": "揺れ（後半）",
                       "bn_input_std_max": "BN 入力の標準偏差（最大）"})

# %% tags=["remove-cell"]
gap = (history["val_mae"] - history["val_mae_recalibrated"]).abs()
hl.glue("max_gap_54", float(gap.max()))
hl.glue("max_gap_epoch_54", int(history.loc[gap.idxmax(), "epoch"]))
hl.glue("final_gap_54", float(gap.iloc[-1]))
hl.glue("fig-bn-54", training_plots.batch_norm_diagnostic(
    history["epoch"], history["val_mae"], history["val_mae_recalibrated"]), display=False)

# %% tags=["remove-cell"]
d = diagnosis.to_dict("index")
scale_s = d["alignn_simple"]["bn_input_std_max"]
scale_c = d["cgcnn"]["bn_input_std_max"]
hl.glue("scale_simple_54", scale_s)
hl.glue("scale_cgcnn_54", scale_c)
scale_ratio = scale_c / scale_s
hl.glue("scale_ratio_54", scale_ratio)
hl.glue("scale_phrase_54",
        "CGCNN の方がむしろ大きい値でした" if scale_ratio >= 1.25 else
        "二つはほぼ同じ大きさでした" if scale_ratio >= 0.8 else
        "簡易版の方が大きいものの、CGCNN でも同じ桁の大きさでした"
        if scale_ratio >= 0.3 else
        "簡易版の方がはっきり大きい値でした")
ratio = d["alignn_simple"]["noise_first"] / d["cgcnn"]["noise_first"]
hl.glue("noise_ratio_54", ratio)
calmer = all(d[n]["noise_first"] > d[n]["noise_second"] for n in d)

# %% tags=["remove-cell"]
hl.glue("gap_sentence_54", "学習率が高いあいだは、同じ重みでも正規化に使う統計量だけで検証 MAE が"
        "大きく変わり、学習の終わりにはその差が小さくなります" if gap.max() > 3 * gap.iloc[-1]
        else "このページの短い学習では、その差は学習の終わりまで小さくなりませんでした")
hl.glue("calm_sentence_54", "どちらのモデルも学習率が下がる後半に落ち着きます" if calmer
        else "このページの短い学習では、後半の揺れが前半より小さいとは限りませんでした")
hl.glue("noise_sentence_54",
        "簡易版の方がむしろ揺れは小さいくらいでした" if ratio < 0.8 else
        "二つの揺れはほぼ同じで、簡易版だけが特別に不安定なわけではありません"
        if ratio < 1.25 else
        "簡易版の方が大きく揺れましたが、CGCNN も同じ桁の揺れを示しており、"
        "揺れは簡易版だけに起きているものではありません" if ratio < 3 else
        "簡易版の方がはっきり大きく揺れました")
procedure = gap.max() > 3 * gap.iloc[-1] and calmer
hl.glue("instability_54",
        ("したがって、以前の版の「不安定さ」の大きな部分は学習手順によるものと"
         "考えられます" if procedure else
         "このページの短い学習では、以前の版の「不安定さ」が学習手順だけによる"
         "ものかどうかは、はっきりしません")
        + ("。ただし、前半の揺れは簡易版の方が大きいので、モデルそのものの"
           "揺れやすさも残っています" if ratio >= 1.25 else ""))

# %% [markdown]
# ```{glue:figure} fig-bn-54
# :name: fig-bn-54
# ALIGNN 簡易版の検証 MAE。学習中に更新した移動平均の統計量で評価したもの（通常の評価）と、同じ重みで統計量を訓練データから計算し直したもの。
# ```
#
# 二つの曲線の差は最大で {glue:text}`max_gap_54:.3f` eV/atom（{glue:text}`max_gap_epoch_54` エポック目）、最後のエポックでは {glue:text}`final_gap_54:.4f` eV/atom でした。{glue:text}`gap_sentence_54`。重みが同じでも統計量だけで結果が変わるということは、1 エポックの検証 MAE には、バッチ正規化の移動平均の遅れによる雑音が含まれるということです。
#
# 一方、バッチ正規化に入る値の標準偏差は、簡易版では最大 {glue:text}`scale_simple_54:.1f`、CGCNN では最大 {glue:text}`scale_cgcnn_54:.1f` で、CGCNN は簡易版の {glue:text}`scale_ratio_54:.2f` 倍です。{glue:text}`scale_phrase_54`。エポック間の検証 MAE の揺れ（対数の差の平均、表の「揺れ」）も、前半の揺れで比べると簡易版は CGCNN の {glue:text}`noise_ratio_54:.2f` 倍で、{glue:text}`noise_sentence_54`。{glue:text}`calm_sentence_54`。
#
# {glue:text}`instability_54`。以前の版では、学習率が高い時期の雑音の多い検証 MAE を早期終了が「改善が止まった」と読み、高い学習率のままの重みで学習を打ち切っていました。スケジュールを最後まで走らせると、学習率が 0 に近づくにつれて重みの動きが止まり、移動平均も追いつきます。そのうえで残る差（上の表で、簡易版は CGCNN に対して {glue:text}`simple_vs_cgcnn_54:+.1f` %）が、簡易版というモデルそのものの差です。簡易版と完全版の差のすべてを「角度の有無」によるものとは言えない点にも注意してください。完全版は線グラフだけでなく、ゲート付きの畳み込みと無向グラフも使っています。
#
# ```{admonition} 元の教材の数値について
# :class: warning
# 元の教材の原文は「CGCNN 0.0286、簡易版 0.0278、完全版 0.0250 eV/atom」という表を載せていましたが、これらは測定値ではありません。完全版 ALIGNN の Matbench での公開値 {cite}`matbench_leaderboard` は 5.6 節の文献値の表にまとめます。本書の縮小版（少ないエポック、小さな隠れ次元、MP-20 の部分集合）の数値とは条件がまったく違うので、直接比べないでください。
# ```
#
# ALIGNN の利点は、角度という CGCNN にない幾何情報を使えることです。課題は計算コストで、線グラフの大きさは原子あたりの結合数の二乗に比例して増えます。予算（ステップ数）が小さいと、大きなモデルの利点が出きらないこともあります。`full` プロファイル（GPU、論文どおりの大きさ）では `python -m tools.matbench_run --model alignn --task matbench_mp_e_form` で Matbench の公式分割に対して学習できます。

# %% [markdown]
# ## まとめ
#
# - 線グラフは結合をノード、原子を共有する結合の対をエッジとし、結合角の余弦を特徴量に持ちます。
# - ALIGNN は線グラフと原子グラフを交互に更新して、角度の情報を原子の表現に伝えます。
# - 角度の情報が精度にどれだけ効くかと、その計算コストは、このページの実測値で判断します。
#
# ## 演習
#
# この節に関係する演習は {doc}`05_8_exercises` の演習 3（線グラフと結合角）です。
#
# ## 参考文献
#
# ```{bibliography}
# :filter: docname in docnames
# ```
