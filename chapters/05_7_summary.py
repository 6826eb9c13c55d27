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
# # 5.7 本章のまとめ
#
# 本章では、組成特徴量と結晶グラフの特徴量を統合するハイブリッドアプローチを、早期統合（Early Fusion）、予測の統合（Late Fusion）、中間層での統合（ALIGNN、MEGNet）の順に組み立て、同じ条件で測りました。この節では、主要な知見を **このビルドの実測値** で振り返り、実務での使い分けをまとめます。文中の数値はすべて、実行結果のレジストリから読み出したものです。
#
# ```{admonition} 対象読者と学習目標
# :class: tip
# 前提：{doc}`05_1_design` 〜 {doc}`05_6_comparison`。この節を終えると、
# - 本章の主要な知見を、実測値とともに説明できる
# - データ量・計算資源・目的に応じて、ハイブリッド手法を選べる
# - 元の教材のどの主張が誤りで、どう直したかを説明できる
# ```

# %% [markdown]
# ## この節の実行方法
#
# 最初のセルは Colab のときだけ必要なパッケージを入れます（{doc}`../book/setup`）。

# %% tags=["hide-cell", "remove-output"]
# Colab 用のセットアップ（Colab の外では何もしない）
import importlib.metadata
import importlib.util
import os
import subprocess
import sys

REPOSITORY = "https://github.com/OWNER/hybrid-book"
if "google.colab" in sys.modules:
    def pip_install(*args):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args],
                       check=True)

    if importlib.util.find_spec("hybridlib") is None:
        # Colab の torch はそのまま使い、足りないパッケージだけを入れる
        with open("/tmp/keep-torch.txt", "w") as pins:
            pins.write(f"torch=={importlib.metadata.version('torch')}\n")
        pip_install("-c", "/tmp/keep-torch.txt", f"git+{REPOSITORY}")
        # matbench 0.6 は古い版を固定しているので依存関係なしで入れる
        pip_install("--no-deps", "matbench==0.6")
    os.environ.setdefault("HYBRIDLIB_SOURCE", "matbench")  # Matbench をオンラインで
    os.environ.setdefault("HYBRIDLIB_PROFILE", "ci")  # 数分で終わる大きさ

# %% [markdown]
# 乱数の種を固定し、各節の結果をレジストリから読み出します（なければ学習します）。

# %%
import pandas as pd

import hybridlib as hl

hl.setup(seed=0)
profile = hl.config.get_profile()
print(f"profile = {profile.name}")

# %% tags=["remove-output", "nbval-ignore-output"]
names = ["rf_magpie", "cgcnn", "early_fusion", "attention_fusion", "late_fusion_val",
         "late_fusion_train", "stacking", "alignn_simple", "alignn"]
table = hl.tables.metrics_table(names, "e_form", profile).set_index("experiment")
multitask = hl.tables.multitask_table(profile)
transfer = hl.tables.transfer_table(multitask)
late_val = hl.experiments.run("late_fusion_val", profile)
late_train = hl.experiments.run("late_fusion_train", profile)

# %%
table[["model", "mae", "r2", "train_time_s"]].round(4)

# %% tags=["remove-cell"]
mae = table["mae"]
components = mae[["rf_magpie", "cgcnn"]].min()
fusions = ["early_fusion", "attention_fusion", "late_fusion_val", "stacking"]
winners = [hl.tables.MODELS[n][0] for n in fusions if mae[n] < components]
hl.glue("n_fusion_wins_57", len(winners))
hl.glue("fusion_winners_57", "、".join(winners) if winners else "なし")
hl.glue("cgcnn_vs_rf_57", 100 * (1 - mae["cgcnn"] / mae["rf_magpie"]))
hl.glue("alpha_val_57", late_val.extra["alpha"])
hl.glue("alpha_train_57", late_train.extra["alpha"])
hl.glue("leak_cost_57", 100 * (mae["late_fusion_train"] / mae["late_fusion_val"] - 1))
hl.glue("alignn_vs_simple_57", 100 * (1 - mae["alignn"] / mae["alignn_simple"]))
hl.glue("alignn_time_57", table.loc["alignn", "train_time_s"] / table.loc["cgcnn", "train_time_s"])
negative = (transfer.drop(columns="model") > 0).to_numpy().sum()
hl.glue("n_negative_57", int(negative))
hl.glue("n_transfer_57", int(transfer.drop(columns="model").size))

# %% [markdown]
# ## 主要な知見
#
# 1. **構造情報の価値は、目的変数とデータ量で決まる。** 5.1 節で見たとおり、このデータ（凸包近くの安定相）では多形間の生成エネルギーの差が小さく、組成だけでもかなり予測できます。このビルドでは、CGCNN の MAE は RF より {glue:text}`cgcnn_vs_rf_57:.1f` % 小さくなりました（負なら RF の方が良い）。学習曲線が示すとおり、この差はデータ量とともに変わります。
# 2. **統合が単独モデルに勝つとは限らない。** 4 種類の統合（連結、Attention、Late Fusion、スタッキング）のうち、RF と CGCNN の良い方より MAE が小さくなったのは {glue:text}`n_fusion_wins_57` 種類（{glue:text}`fusion_winners_57`）でした。統合の効果は、必ず同じ条件の単独モデルと比べて確かめます。
# 3. **重みを選ぶデータを間違えると、性能を読み誤る。** Late Fusion の重みは、検証データで選ぶと $\alpha$ = {glue:text}`alpha_val_57:.2f`、元の教材のように訓練データで選ぶと $\alpha$ = {glue:text}`alpha_train_57:.2f` で、後者のテスト MAE は前者より {glue:text}`leak_cost_57:.1f` % 大きくなりました。
# 4. **角度の情報にはコストがかかる。** ALIGNN 完全版の MAE は簡易版より {glue:text}`alignn_vs_simple_57:.1f` % 小さく（負なら悪化）、学習時間は CGCNN の {glue:text}`alignn_time_57:.1f` 倍でした。
# 5. **マルチタスクの転移は測って判断する。** MEGNet のマルチタスク 4 通り × 2 タスク = {glue:text}`n_transfer_57` 個の組み合わせのうち、単一タスクより悪化した（負の転移）のは {glue:text}`n_negative_57` 個でした。

# %% [markdown]
# ## 元の教材から直したこと
#
# | 元の教材 | 本書 |
# |---|---|
# | Magpie は 145 次元 | matminer の Magpie プリセットは 132 次元。145 次元は Ward 2016 の汎用セット（5.2 節） |
# | 組成特徴量を標準化せずに連結 | 訓練データの統計量で標準化してから連結（5.2 節） |
# | Late Fusion の $\alpha$ を訓練データで選ぶ | 検証データで選ぶ。訓練データでの選択は比較のために測定（5.3 節） |
# | 「ALIGNN 簡易版」は線グラフなし | 簡易版と、線グラフを持つ完全版の両方を実装して比較（5.4 節） |
# | 「MEGNet 風」モデルは GATConv の積み重ね | エッジ・ノード・大域状態を更新する本物の MEGNet ブロック（5.5 節） |
# | マルチタスクのデータを行の位置で結合 | 物質 ID、または結晶構造の同一性で結合（5.5 節） |
# | 性能表・出力例の数値が手書き | すべての数値をビルドの中で測定。文献値は出典付きの別表（5.6 節） |

# %% [markdown]
# ## 自分の結晶で試す
#
# 本章で学習したモデルは、予測値だけでなく重みと前処理（目的変数の標準化、組成特徴量の統計量、グラフの作り方）もレジストリに保存されています。`hl.predict` に pymatgen の `Structure`、CIF の文字列、CIF ファイルのいずれかを渡すと、学習し直さずに全モデルの予測を一つの表で返します（組成式だけを渡すと、組成だけを読む RF だけが答えます）。ここでは、よく知られた結晶（岩塩型 NaCl、ダイヤモンド型 Si、ウルツ鉱型 GaN、立方晶ペロブスカイト SrTiO3）を pymatgen で空間群と格子定数から組み立て、予測を横に並べます。

# %% tags=["remove-cell"]
# 予測に使う全モデルの run（ビルドでは登録済み。なければここで学習する）
for name in hl.predict.book_models():
    hl.experiments.run(name, profile)

# %%
crystals = {name: hl.predict.examples.prototype(name)
            for name in hl.predict.examples.BOOK_EXAMPLES}
predictor = hl.predict.Predictor(profile=profile)  # 重みを一度だけ読み込む
predictions = predictor.predict(crystals)
hl.predict.widget.side_by_side(predictions)

# %% tags=["remove-cell"]
# 本文の「全モデルの予測」を保証する
assert set(predictions["model"]) == set(hl.predict.book_models())
assert predictions["prediction"].notna().all()

# %% [markdown]
# 行がモデルと目的変数、列が結晶です。値に `*` が付いているのは、そのモデルの学習データの外にある入力です。学習データにない元素を含むか、学習データのどの単位胞よりも多くのサイトを持つ場合がこれに当たり、予測は外挿になります。学習データに同じ組成式の物質があれば、その中で最も安定な多形の DFT 値が「DFT（学習データ中の同じ組成式）」の行に入ります。結晶ごとの判定は次の表のとおりです。

# %%
flags = ["unseen_elements", "too_many_sites", "in_training_data", "dft_id"]
predictions.groupby("input", sort=False)[flags].first()

# %% [markdown]
# 長い形式の表には、予測のばらつきの目安も入っています。複数の乱数の種で学習した run がレジストリにあるモデルは種の間の標準偏差、Late Fusion とスタッキングは組み合わせる RF と CGCNN の予測の開きです。ここで組み立てた結晶は実験の格子定数による理想構造で、学習データ（DFT で構造緩和した結晶）とは格子定数が少し異なることにも注意してください。

# %%
columns = ["model", "target", "prediction", "unit", "uncertainty", "uncertainty_kind"]
predictions.loc[predictions["input"] == "Si (diamond)", columns]

# %% [markdown]
# ノートブックを実行しているときは、下の欄で結晶を選ぶか CIF を貼り付けて「予測する」を押すと、同じ表がその場で作られます（本として読んでいるときは、上の表が同じ内容です）。ターミナルからは `python -m hybridlib.predict a.cif b.cif --out table.csv` で、いくつもの CIF をまとめて予測できます。読めないファイルがあっても、そのファイル名と理由を表示して残りを予測します。

# %% tags=["remove-output"]
hl.predict.widget.explorer(predictor)

# %% [markdown]
# ## まとめ：実務上の推奨
#
# - **まず単独モデルの基準を作る**：組成の RF と CGCNN を、同じ分割・同じ学習設定で測ります。統合の効果は、この基準との差でしか語れません。
# - **検証データを大切に**：重み、メタモデル、早期終了、ハイパーパラメータはすべて検証データ（または訓練データ内の交差検証）で決め、テストデータは最後に一度だけ使います。
# - **データ量に合わせる**：データが少ないうちは組成特徴量が強く、データが増えるほど構造の情報が効いてきます。学習曲線で自分のデータの位置を確かめましょう。
# - **精度と時間の両方を測る**：学習時間（と推論時間）も測り、パレート最適なモデルから用途に合うものを選びます。
# - **転移を確かめる**：マルチタスク学習では、単一タスクの基準と比べて負の転移がないかを確認し、必要なら重みを学習させます。
#
# ## 演習
#
# 本章の演習は {doc}`05_8_exercises` にまとめています（解答つき。学生用コピーの作り方と採点方法は {doc}`../book/instructor`）。
#
# ## 参考文献
#
# 本章で引用した文献の一覧です。
#
# ```{bibliography}
# :filter: docname in docnames
# ```
#
# 本章で主に参照した文献：ALIGNN {cite}`choudhary2021alignn`、MEGNet {cite}`chen2019megnet`、マルチタスク学習の概説 {cite}`ruder2017overview,crawshaw2020multi`、GNN のベンチマーク {cite}`fung2021benchmarking`、組成からの表現学習 {cite}`goodall2020roost`、グラフアテンション {cite}`velickovic2018gat`。
