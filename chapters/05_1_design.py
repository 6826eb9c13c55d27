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
# # 5.1 ハイブリッド特徴量の設計原理
#
# 第4章では、組成だけから作る特徴量（Magpie）とランダムフォレスト、結晶構造をグラフとして読むCGCNN {cite}`xie2018cgcnn` を同じデータで比べました。本章では両者を **統合する** ハイブリッドモデルを組み立て、「両方の良いとこ取り」が本当に起きるのか、起きるならどの条件でなのかを、この本のビルドで実際に測った数値で確かめます。この節では、統合の前提となる「二つの特徴量は何が違い、どこで補い合うのか」を実データで検証し、統合戦略を分類します。
#
# ```{admonition} 対象読者と学習目標
# :class: tip
# 前提：第4章（Magpie 特徴量、ランダムフォレスト、CGCNN の基本）。この節を終えると、
# - 組成特徴量と結晶グラフ特徴量の違いを、情報・データ量・計算コスト・構造感度の観点で説明できる
# - 同じ組成で構造だけが違う物質（多形）を実データから探し、組成モデルの限界を数値で示せる
# - 学習曲線から「構造情報が効き始めるデータ量」を読み取れる
# - Early / Late / Intermediate Fusion の違いを式と図で説明できる
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
# `hl.setup()` で乱数の種をすべて固定し、図の日本語フォントを設定します。プロファイル（データ量と学習量の組）は環境変数 `HYBRIDLIB_PROFILE` で選ばれ、以下の数値はすべて、このプロファイルで実行したこのページ自身の結果です。

# %%
import numpy as np
import pandas as pd

import hybridlib as hl

hl.setup(seed=0)
profile = hl.config.get_profile()
df = hl.data.load_dataset(profile)
print(f"profile = {profile.name}, materials = {len(df)}")
hl.tables.show(df["split"].value_counts(), labels={"split": "分割"})

# %% tags=["remove-cell"]
hl.glue("n_materials", len(df))
hl.glue("profile_name", profile.name)
hl.glue("share_metal", float((df["band_gap"] == 0).mean() * 100))

# %% [markdown]
# ## データ：Materials Project の実データ
#
# 本書の既定のデータは、Materials Project {cite}`jain2013materials` の結晶から CDVAE {cite}`xie2022cdvae` が選んだ MP-20（単位胞 20 原子以下、ICSD 由来、凸包から 0.08 eV/atom 以内）の一部です。このページでは {glue:text}`n_materials` 物質を使っています（プロファイル{glue:text}`profile_name`）。各物質は生成エネルギー `e_form`（eV/atom）とバンドギャップ`band_gap`（eV）の両方を持ちます。分割（`split`）は物質 ID のハッシュだけで決まるので、行の順序を変えても同じ物質は同じ側に入ります。テストデータはモデル選択に一切使いません。

# %%
hl.tables.show(df.head(),
               ["material_id", "formula", "n_sites", "e_form", "band_gap"],
               labels={"material_id": "物質 ID", "formula": "組成式",
                       "n_sites": "単位胞の原子数"})

# %% tags=["remove-cell"]
# Figure: target distributions (built here, placed by the glue:figure directive below)
hl.glue("fig-targets-51", hl.plots.target_distributions(df), display=False)

# %% [markdown]
# ```{glue:figure} fig-targets-51
# :name: fig-targets-51
# 二つの目的変数の分布。バンドギャップは 0（金属）に大きな山を持つ「ゼロ過多」の分布です。
# ```
#
# {numref}`fig-targets-51` のとおり、このデータでは約 {glue:text}`share_metal:.0f` % の物質がバンドギャップ 0（DFT 計算上の金属）です。MP-20 は凸包近くの安定な結晶だけを含むので、生成エネルギーはほぼすべて負です。どちらも Matbench {cite}`dunn2020matbench` のタスクとは母集団が違うため、誤差の値をリーダーボードと直接比べることはできません。

# %% [markdown]
# ## 5.1.1 特徴量の相補性
#
# 元の教材は次の表で二つの特徴量を比べていました。ここでは各行の主張を、右端の列に書いた方法でこの節と 5.6 節で **測って** 確かめます。
#
# | 観点 | 組成ベース特徴量 | GNN 構造ベース特徴量 | 本書での検証 |
# |---|---|---|---|
# | 情報粒度 | 元素レベル（組成比で重み付けした元素特性の統計量） | 原子レベル（位置・結合距離・角度） | 下の多形の例 |
# | データ要求量 | 少なくても学習できる | 多くのデータで伸びる | 学習曲線（{numref}`fig-learning-curve-51`） |
# | 計算コスト | 低い（特徴量計算は一瞬） | 高い（グラフ構築と逐次学習） | 5.6 節の学習時間 |
# | 解釈可能性 | 高い（元素特性の名前がある） | 中（学習した埋め込み） | 5.2 節の寄与分析、演習 8 |
# | 構造感度 | なし（多形を区別できない） | あり（結晶構造に依存） | 下の多形の例 |
#
# 元の表は「組成は <10,000 件、GNN は >50,000 件」という目安を挙げていましたが、これは出典のない経験則です。本書では代わりに、同じ分割で学習データ量だけを変えた学習曲線を測ります。

# %% [markdown]
# ### 構造感度：多形は組成特徴量では区別できない
#
# 同じ組成式を持つ異なる結晶（多形）を、データから探します。

# %%
poly_e = hl.analysis.polymorph_groups(df, "e_form")
poly_gap = hl.analysis.polymorph_groups(df, "band_gap")
print(f"{len(poly_e)} formulas occur as 2 or more crystals "
      f"({poly_e['n'].sum()} materials)")
hl.tables.show(poly_gap.head(6), ["formula", "n", "min", "max", "range"],
               labels={"formula": "組成式",
                       "min": "バンドギャップの最小 (eV)",
                       "max": "バンドギャップの最大 (eV)",
                       "range": "バンドギャップの幅 (eV)"})

# %% [markdown]
# 組成特徴量は組成だけの関数なので、多形どうしでは **完全に同じベクトル** になります。実際に Magpie 特徴量 {cite}`ward2016general` を計算して確かめます。

# %%
example = poly_gap.iloc[0]
members = df.set_index("material_id").loc[example["material_ids"]]
magpie = hl.features.composition_features(
    members["structure"], preset="magpie").to_numpy()
spread = np.nanmax(magpie, axis=0) - np.nanmin(magpie, axis=0)
print(example["formula"], "band gaps:", members["band_gap"].round(3).tolist())
print("largest difference between their Magpie vectors:", np.nanmax(spread))

# %% [markdown]
# したがって、組成だけを見るモデルは多形に同じ値を予測するしかありません。各組成式の中央値を予測するのがその最良の場合なので、多形の中央値からの平均絶対偏差は、**どんな組成モデルにも越えられない誤差の下限** になります。

# %%
rows = df[df["formula"].isin(poly_e["formula"])]
floor = pd.Series({t: hl.analysis.composition_only_floor(rows, t)
                   for t in ("e_form", "band_gap")}, name="MAE floor")
hl.tables.show(floor.rename_axis("target"),
               labels={"MAE floor": "組成だけのモデルの MAE の下限"})

# %% tags=["remove-cell"]
hl.glue("floor_e_form", floor["e_form"])
hl.glue("floor_gap", floor["band_gap"])
hl.glue("max_range_e_form", float(poly_e["range"].max()))

# %% [markdown]
# 多形を持つ物質に限ると、組成モデルの誤差の下限は生成エネルギーで{glue:text}`floor_e_form:.4f` eV/atom、バンドギャップで {glue:text}`floor_gap:.3f` eV です。生成エネルギーの下限が小さいのは、このデータが凸包から 0.08 eV/atom 以内の安定相だけを含み、多形間の差が最大でも {glue:text}`max_range_e_form:.3f` eV/atom しかないためです。一方バンドギャップは多形で金属にも絶縁体にもなりうるため、構造の情報が本質的に必要です。**構造感度がどれだけ効くかは、目的変数とデータの選び方で大きく変わる** ことを覚えておきましょう。

# %% [markdown]
# ### データ要求量：学習曲線
#
# 同じテストデータに対して、学習データを入れ子の部分集合（物質 ID のハッシュで選ぶ）に減らしながら、Magpie + ランダムフォレスト {cite}`breiman2001random` と CGCNN を学習します。CGCNN はどの大きさでも **同じオプティマイザのステップ数**（{glue:text}`steps_51` ステップ）を学習し、スケジュールを最後まで走らせて検証 MAE が最小のエポックの重みを使います。エポック数を固定すると、小さな訓練データでは更新回数が減ってしまい、曲線が「データ量の効果」と「学習量の不足」を混ぜて測ることになるからです。学習済みモデルは実行結果のレジストリに保存され、再ビルドでは再利用されます。

# %% tags=["remove-output", "nbval-ignore-output"]
curve = pd.concat([hl.experiments.learning_curve(name, profile=profile)
                   for name in ("rf_magpie", "cgcnn")])
curve = curve[curve["target"] == "e_form"]

# %%
table = curve.pivot(index="train_size", columns="model", values="mae")
epochs = curve[curve["model"] == "cgcnn"].set_index("train_size")
cgcnn_epochs = (epochs[["epochs_run", "best_epoch"]].astype(int)
                .add_prefix("cgcnn "))
hl.tables.show(table.join(cgcnn_epochs),
               labels={"cgcnn epochs_run": "CGCNN のエポック数",
                       "cgcnn best_epoch": "CGCNN の最良エポック"})

# %% tags=["remove-cell"]
figure = hl.plots.learning_curve(table.index, {m: table[m] for m in table.columns})
hl.glue("fig-learning-curve-51", figure, display=False)
hl.glue("steps_51", profile.training.steps)
hl.glue("epochs_small_51", int(epochs["epochs_run"].iloc[0]))
hl.glue("epochs_full_51", int(epochs["epochs_run"].iloc[-1]))
hl.glue("size_small_51", int(epochs.index[0]))
gnn_better = table.index[table["cgcnn"] < table["rf_magpie"]]
above = table.index >= (gnn_better.min() if len(gnn_better) else np.inf)
hl.glue("crossing_51",
        "どの大きさでも RF の方が小さく" if not len(gnn_better) else
        f"{int(gnn_better.min())} 物質以上のすべての点で CGCNN の方が小さく"
        if (table.loc[above, "cgcnn"] < table.loc[above, "rf_magpie"]).all() else
        "CGCNN の方が小さかったのは "
        + "、".join(str(int(n)) for n in gnn_better) + " 物質の点だけで、曲線は一度では交わらなく")

# %% [markdown]
# ```{glue:figure} fig-learning-curve-51
# :name: fig-learning-curve-51
# 学習データ量と生成エネルギーのテスト MAE（両対数）。同じテストデータ、同じ分割、CGCNN はどの点も同じステップ数です。
# ```
#
# 最も小さい {glue:text}`size_small_51` 物質の点では CGCNN は {glue:text}`epochs_small_51` エポック、訓練データ全体では {glue:text}`epochs_full_51` エポックを学習しています（ステップ数は同じ）。このページの実行では、テスト MAE は{glue:text}`crossing_51`なりました。{numref}`fig-learning-curve-51` で二本の曲線が交わる位置（交わらなければその傾き）が、このデータで「構造情報が効き始めるデータ量」の実測値です。`ci` プロファイルのように学習量が少ないと GNN は十分に学習できず、曲線は交わらないことがあります。その場合も数値はそのまま示します。

# %% [markdown]
# ## 5.1.2 統合戦略の分類
#
# 二つの特徴量の統合には、主に三つの戦略があります（{numref}`fig-taxonomy-51`）。

# %% tags=["remove-cell"]
hl.glue("fig-taxonomy-51", hl.plots.fusion_taxonomy(), display=False)

# %% [markdown]
# ```{glue:figure} fig-taxonomy-51
# :name: fig-taxonomy-51
# ハイブリッド統合戦略の分類（元の教材の図を描き直したもの）。
# ```
#
# **Early Fusion（特徴量レベル統合）**：組成特徴量と GNN の結晶埋め込みを連結し、一つのモデルで端から端まで学習します（5.2 節）。
#
# $$\mathbf{h}_{\text{hybrid}} = [\mathbf{h}_{\text{composition}}; \mathbf{h}_{\text{GNN}}]$$
#
# **Late Fusion（予測レベル統合）**：別々に学習したモデルの予測を重み付き平均します（5.3 節）。重み $\alpha$ は **検証データ** で選びます（元の教材は訓練データで選んでおり、これは誤りです）。
#
# $$\hat{y}_{\text{hybrid}} = \alpha \hat{y}_{\text{RF}} + (1-\alpha) \hat{y}_{\text{CGCNN}}$$
#
# **Intermediate Fusion（中間層統合）**：ネットワークの中間層で異なる表現を統合します。原子グラフと線グラフ（結合角）を交互に更新する ALIGNN {cite}`choudhary2021alignn`（5.4 節）や、原子・結合・大域状態を同時に更新する MEGNet {cite}`chen2019megnet`（5.5 節）がこれにあたります。

# %% [markdown]
# ## まとめ
#
# - 組成特徴量は組成だけの関数なので、多形を区別できません。その限界はデータから「誤差の下限」として測れ、目的変数によって大きさがまったく違います。
# - 構造情報の価値はデータ量とともに変わります。学習曲線で実測するのが確実です。
# - 統合は、特徴量（Early）・予測（Late）・中間表現（Intermediate）の三つのレベルで行えます。
#
# ## 演習
#
# この節に関係する演習は {doc}`05_8_exercises` の演習 5（手法の選択）です。
#
# ## 参考文献
#
# ```{bibliography}
# :filter: docname in docnames
# ```
