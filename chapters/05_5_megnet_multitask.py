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
# # 5.5 MEGNet：マルチタスク学習
#
# 生成エネルギーとバンドギャップは、同じ結晶の電子構造から決まる量です。一つのネットワークで両方を同時に学習すれば、片方のタスクで学んだ表現がもう片方の役にも立つかもしれません（**正の転移**）。逆に、性質の違うタスクが足を引っ張り合うこともあります（**負の転移**）。この節では MEGNet {cite}`chen2019megnet` の本物のブロック（エッジ・ノード・大域状態の三つを更新するグラフネットワーク）で、単一タスクとマルチタスクを同じ条件で比べ、タスクの重み $\lambda$ の決め方がどう効くかを測ります。
#
# ```{admonition} 対象読者と学習目標
# :class: tip
# 前提：{doc}`05_1_design`、第4章の GNN。この節を終えると、
# - MEGNet ブロックのエッジ・ノード・大域状態の更新を式で説明できる
# - 二つのタスクのデータを物質 ID で正しく結合できる（行の位置で結合してはいけない理由を説明できる）
# - 固定の重み $\lambda$ と、学習する不確実性重み付けの違いを説明できる
# - 単一タスクの基準と比べて、正の転移・負の転移を数値で判定できる
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
df = hl.data.load_dataset(profile)
print(f"profile = {profile.name}, materials = {len(df)}")

# %% [markdown]
# ## 5.5.1 マルチタスク学習の原理
#
# $K$ 個のタスク $T_1, \dots, T_K$ を同時に学習するとき、損失は各タスクの損失 $\mathcal{L}_k$ の重み付き和です。
#
# $$\mathcal{L}_{\text{multi}} = \sum_{k=1}^{K} \lambda_k \mathcal{L}_k$$
#
# 本書の MEGNet は、共有の胴体（埋め込みと MEGNet ブロック、Set2Set 読み出し）の上に、タスクごとの出力 MLP を載せます（hard parameter sharing {cite}`ruder2017overview`）。

# %% [markdown]
# ## 5.5.2 データの結合：行の位置ではなく ID で
#
# 元の教材のコード例 4 は、Matbench の二つのタスク（`mp_e_form` と `mp_gap`）のデータを **行の位置** で並べ、`train_outputs_1[i]` と `train_outputs_2[i]` を同じ物質の値として扱っていました。二つのタスクは物質の数も並び順も違う（132,752 件と 106,113 件）ので、これは別々の物質の値を組み合わせていることになり、マルチタスク学習として意味を持ちません。
#
# 本書のオフラインデータは、各レコードが同じ物質の生成エネルギーとバンドギャップを両方持っているので、結合は `material_id` で自明に正しく行えます。Matbench をオンラインで使う場合、Matbench の行は Materials Project の ID を持たないので、`hl.data.join_by_structure` が **結晶構造の同一性**（組成式と原子あたり体積のキー、衝突したときは pymatgen の `StructureMatcher`）で結合し、一致した件数を報告します。ここではオフラインデータで、二つの「タスク」をわざと別々に並べ替えてから構造で結合し、ID が正しく対応することを確かめます。

# %%
left = df[["material_id", "structure", "e_form"]].sample(frac=1.0, random_state=1)
right = df[["material_id", "structure", "band_gap"]].sample(frac=1.0, random_state=2)
joined = hl.data.join_by_structure(left.head(300), right, suffixes=("", "_gap"))
print("ids agree:", bool((joined["material_id"] == joined["material_id_gap"]).all()))

# %% [markdown]
# ## 5.5.3 MEGNet ブロック
#
# MEGNet のグラフは、ノード（原子）$v_i$、エッジ（結合）$e_k$、**大域状態** $u$（結晶全体の量、例えば温度や圧力。結晶では既定で $[0, 0]$）の三種類の特徴量を持ちます。一つのブロックは次の順に更新します（{numref}`fig-megnet-55`）。
#
# $$\mathbf{e}_k' = \phi_e(\mathbf{v}_{s_k} \oplus \mathbf{v}_{r_k} \oplus \mathbf{e}_k \oplus \mathbf{u}), \qquad \mathbf{v}_i' = \phi_v(\bar{\mathbf{e}}_i' \oplus \mathbf{v}_i \oplus \mathbf{u}), \qquad \mathbf{u}' = \phi_u(\bar{\mathbf{e}}' \oplus \bar{\mathbf{v}}' \oplus \mathbf{u})$$
#
# ここで $s_k, r_k$ はエッジの送り手と受け手、$\bar{\mathbf{e}}_i'$ は原子 $i$ に入るエッジの平均、$\bar{\mathbf{e}}', \bar{\mathbf{v}}'$ は結晶全体の平均です。各ブロックには残差接続があり、最後にノードとエッジを Set2Set {cite}`vinyals2016order` で読み出して大域状態と連結します。元の教材のコードは「MEGNet 風」と称して GATConv を重ねていましたが、これはエッジも大域状態も更新しないので MEGNet ではありません。

# %% tags=["remove-cell"]
hl.glue("fig-megnet-55", hl.plots.megnet_block(), display=False)

# %% [markdown]
# ```{glue:figure} fig-megnet-55
# :name: fig-megnet-55
# MEGNet ブロックの更新の流れ。
# ```

# %%
model = hl.models.MEGNet(n_targets=2)
print("parameters (2 targets):", sum(p.numel() for p in model.parameters()))
model.blocks[0]

# %% [markdown]
# ## 5.5.4 タスクの重み $\lambda$
#
# 重みの決め方を四通り比べます。
#
# 1. **等重み** $\lambda = (1, 1)$
# 2. **目的変数の分散の逆数** $\lambda_k \propto 1/\mathrm{Var}(y_k)$（訓練データから計算）
# 3. **元の教材の値** $\lambda = (1.0, 0.5)$
# 4. **不確実性による重み付け** {cite}`kendall2018multi`：$\mathcal{L} = \sum_k e^{-s_k}\mathcal{L}_k + s_k$ の $s_k$ をネットワークと一緒に学習し、$\lambda_k = e^{-s_k}$ とする
#
# なお、本書の学習ループは既定で目的変数を標準化します。標準化すると二つのタスクの尺度が揃ってしまい、重みで尺度の違いを補う意味がなくなるので、この節の学習だけは **標準化せず** 生の単位（eV/atom と eV）で損失を計算しています。
#
# 訓練データの二つの目的変数の尺度を確かめます。

# %%
train = df[df["split"] == "train"]
scales = train[["e_form", "band_gap"]].agg(["mean", "std", "var"]).T
hl.tables.show(scales.rename_axis("target"))

# %% [markdown]
# ## 5.5.5 単一タスクとマルチタスクの比較
#
# 同じ MEGNet の胴体で、単一タスク 2 つとマルチタスク 4 つを学習した結果です（実行結果のレジストリから読み出します）。バンドギャップの誤差は、金属（ギャップ 0）と非金属に分けても示します。

# %% tags=["remove-output", "nbval-ignore-output"]
table = hl.tables.multitask_table(profile)

# %%
hl.tables.show(table)

# %% [markdown]
# 単一タスクの基準に対する MAE の変化率です（正の値は悪化 = 負の転移）。

# %%
transfer = hl.tables.transfer_table(table)
hl.tables.show(transfer)

# %% tags=["remove-cell"]
learned = hl.experiments.run("megnet_mt_uncertainty", profile)
hl.glue("fig-weights-55", hl.plots.task_weight_trajectory(
    learned.extra["weight_trajectory"], ["生成エネルギー", "バンドギャップ"]), display=False)
best = transfer["e_form_mae change %"].idxmin()
hl.glue("best_mt_55", transfer.loc[best, "model"])
hl.glue("best_mt_eform_55", transfer.loc[best, "e_form_mae change %"])
hl.glue("n_negative_55", int((transfer.drop(columns="model") > 0).to_numpy().sum()))
hl.glue("lambda_eform_55", learned.extra["weights"]["e_form"])
hl.glue("lambda_gap_55", learned.extra["weights"]["band_gap"])
hl.glue("metal_gap_55", table.loc["megnet_band_gap", "gap_mae_metal"])
hl.glue("nonmetal_gap_55", table.loc["megnet_band_gap", "gap_mae_nonmetal"])

# %% [markdown]
# このページの実行では、生成エネルギーの MAE が単一タスクに比べて最も改善したのは「{glue:text}`best_mt_55`」で、変化率は {glue:text}`best_mt_eform_55:.1f` % でした。4 つのマルチタスク × 2 つのタスクのうち、単一タスクより悪化した（負の転移）組み合わせは {glue:text}`n_negative_55` 個です。単一タスクのバンドギャップモデルの MAE は、金属で {glue:text}`metal_gap_55:.3f` eV、非金属で {glue:text}`nonmetal_gap_55:.3f` eV と大きく違います。ゼロが多い分布なので、全体の MAE だけを見ると非金属での誤差の大きさを見落とします。
#
# ```{glue:figure} fig-weights-55
# :name: fig-weights-55
# 不確実性による重み付けで学習されたタスクの重み $\lambda_k$ の変化。
# ```
#
# 学習の終わりの重みは、生成エネルギー {glue:text}`lambda_eform_55:.3g`、バンドギャップ {glue:text}`lambda_gap_55:.3g` でした。不確実性重み付けでは $\lambda_k \approx 1/\mathcal{L}_k$ に近づくので、損失の小さい（予測しやすい）タスクほど重みが大きくなります。元の教材の原文の出力例「マルチタスク 0.0292 vs 単一タスク ~0.0286 eV/atom（わずかに劣化）」は測定値ではありません。転移の有無は、上の表のように同じ胴体・同じデータ・同じ学習設定の単一タスクと比べて初めて判断できます。

# %% [markdown]
# ## 5.5.6 マルチタスク学習の利点と課題
#
# **利点**
# - 一つのモデルで複数の物性を予測でき、推論と保守が一度で済む。
# - 関連するタスクの情報を共有することで、データの少ないタスクの精度が上がることがある。
#
# **課題**
# - タスク間で損失の尺度が違うと、重み $\lambda$ の選び方で結果が大きく変わる。
# - 負の転移が起きることがあり、単一タスクの基準との比較が欠かせない。
# - 両方の目的変数を持つ物質しか使えない（または欠損をマスクする工夫が要る）。
#
# 負の転移への対策としては、タスク固有の層を深くする、相関の高いタスクだけをまとめる、重みを学習させる（不確実性重み付けや GradNorm など）といった方法があります {cite}`crawshaw2020multi`。

# %% [markdown]
# ## まとめ
#
# - マルチタスクのデータは、物質 ID（または結晶構造の同一性）で結合します。行の位置での結合は誤りです。
# - MEGNet はエッジ・ノード・大域状態を順に更新するブロックを持ち、GATConv の積み重ねとは別物です。
# - 重み $\lambda$ の効果と、転移が正か負かは、同じ条件の単一タスクと比べて測ります。
#
# ## 演習
#
# この節に関係する演習は {doc}`05_8_exercises` の演習 4（タスクの重みの設計）と演習 7（負の転移の検出）です。
#
# ## 参考文献
#
# ```{bibliography}
# :filter: docname in docnames
# ```
