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
# - 本章の主要な知見を、実測値と 95 % 区間とともに説明できる
# - データ量・計算資源・目的に応じて、ハイブリッド手法を選べる
# - 元の教材のどの主張が誤りで、どう直したかを説明できる
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
# 乱数の種を固定し、各節の結果をレジストリから読み出します（なければ学習します）。

# %%
import pandas as pd

import hybridlib as hl
from hybridlib.report import claims

hl.setup(seed=0)
profile = hl.config.get_profile()
print(f"profile = {profile.name}")

# %% tags=["remove-output", "nbval-ignore-output"]
FUSIONS = ["early_fusion", "early_fusion_no_dropout", "residual_fusion",
           "attention_fusion", "megnet_state_fusion", "late_fusion_val",
           "stacking"]
names = ["rf_magpie", "cgcnn", *FUSIONS, "late_fusion_train",
         "alignn_simple", "alignn"]
metrics = hl.tables.metrics_table(names, "e_form", profile)
mae = metrics.set_index("experiment")["mae"]
single = mae[["rf_magpie", "cgcnn"]].idxmin()
table = hl.tables.difference_table(names, single, "e_form", profile)
table = table.set_index("experiment")
transfer = hl.tables.transfer_intervals(profile)
late_val = hl.experiments.run("late_fusion_val", profile)
late_train = hl.experiments.run("late_fusion_train", profile)
curves = pd.concat([hl.experiments.learning_curve(m, profile=profile)
                    for m in ("rf_magpie", "cgcnn")])

# %% [markdown]
# 主要なモデルの生成エネルギーのテスト MAE（eV/atom）です。「差 [95 % 区間]」は、RF と CGCNN のうち MAE が小さい方（このビルドでは「{glue:text}`single_57`」）との差とその 95 % 区間、「判定」はその区間から読める判定（良い・悪い・区別できない）です（{doc}`05_3_late_fusion`）。

# %%
table["mae (95 %)"] = hl.tables.interval_column(table, "mae")
table["diff (95 %)"] = hl.tables.interval_column(table, "diff", signed=True)
table.loc[single, "diff (95 %)"] = "基準"
hl.tables.show(table, ["model", "mae (95 %)", "diff (95 %)", "verdict", "r2",
                       "train_time_s"])

# %% tags=["remove-cell"]
labels = {n: hl.tables.MODELS[n][0] for n in names}
predictions = hl.tables.test_predictions(names, "e_form", profile)


def sentence(a, b):
    return claims.compare(predictions, a, b, labels=labels).sentence()


hl.glue("single_57", labels[single])
hl.glue("cgcnn_vs_rf_57", sentence("cgcnn", "rf_magpie"))
e_form = curves[curves["target"] == "e_form"].pivot(index="train_size", columns="model",
                                                    values="mae")
ratio = e_form["cgcnn"] / e_form["rf_magpie"]

# %% tags=["remove-cell"]
steps = ratio.diff().dropna()
low = ratio.idxmin()


def at(n):
    return f"{int(n):,} 件で {ratio[n]:.2f} 倍"


if (steps < 0).all():
    trend = ("この章の学習曲線では、訓練データが増えるごとに、RF に対する "
             f"CGCNN の MAE の比が小さくなりました（{at(ratio.index[0])}から "
             f"{at(ratio.index[-1])}）")
elif ratio.iloc[-1] < ratio.iloc[0]:
    path = (f"{at(low)}まで下がり、訓練データが最も多い {at(ratio.index[-1])}"
            "でした"
            if low != ratio.index[-1] else
            f"{at(low)}まで下がりましたが、途中で上がった点もありました")
    trend = ("この章の学習曲線では、RF に対する CGCNN の MAE の比は "
             f"{at(ratio.index[0])}から {path}。全体としては小さくなりましたが、"
             "訓練データが増えるごとに小さくなったわけではありません（各点は"
             "乱数の種一つの学習なので、点ごとの上下にはばらつきも含まれます）")
else:
    trend = ("この章の学習曲線では、訓練データを増やしても、RF に対する CGCNN "
             f"の MAE の比は小さくなりませんでした（{at(ratio.index[0])}、"
             f"{at(ratio.index[-1])}）")
claims.require(("増えるごとに、" in trend) == bool((steps < 0).all()), trend)

# %% tags=["remove-cell"]
hl.glue("lc_trend_57", trend)
hl.glue("lc_ratios_57", "、".join(
    f"{int(n):,} 件で {r:.2f} 倍" for n, r in ratio.items()))

# %% tags=["remove-cell"]
verdicts = {n: table.loc[n, "verdict"] for n in FUSIONS}
for verdict in ("better", "tie", "worse"):
    chosen = [labels[n] for n in FUSIONS if verdicts[n] == verdict]
    hl.glue(f"n_fusion_{verdict}_57", len(chosen))
    hl.glue(f"fusion_{verdict}_57", claims.listing(chosen))
hl.glue("n_fusions_57", len(FUSIONS))
hl.glue("fusions_57", claims.listing(labels[n] for n in FUSIONS))
claims.require(any(v != "better" for v in verdicts.values()),
               "統合が単独モデルに勝つとは限らない（勝たない統合がある）")
hl.glue("alpha_val_57", late_val.extra["alpha"])
hl.glue("alpha_train_57", late_train.extra["alpha"])
hl.glue("leak_57", sentence("late_fusion_train", "late_fusion_val"))
hl.glue("alignn_57", sentence("alignn", "alignn_simple"))
seconds = table["train_time_s"]
hl.glue("alignn_time_57", seconds["alignn"] / seconds["cgcnn"])
claims.require(seconds["alignn"] > seconds["cgcnn"], "角度の情報にはコストがかかる")
claims.require(table.loc["rf_magpie", "r2"] >= 0.8, "組成だけでもかなり予測できる（R² ≥ 0.8）")
for verdict in ("better", "tie", "worse"):
    hl.glue(f"n_transfer_{verdict}_57", int((transfer["verdict"] == verdict).sum()))
hl.glue("n_transfer_57", len(transfer))
ranked = claims.rank_with_ties(predictions.drop(columns="late_fusion_train"))
hl.glue("top_57", claims.listing(labels[n] for n in claims.top_group(ranked)))

# %% [markdown]
# ## 主要な知見
#
# 1. **構造情報の価値は、目的変数とデータ量で決まる。** 5.1 節で見たとおり、このデータ（凸包近くの安定相）では多形間の生成エネルギーの差が小さく、組成だけでもかなり予測できます。このビルドでは、{glue:text}`cgcnn_vs_rf_57`。学習曲線（5.1 節）では、CGCNN の MAE は RF の、{glue:text}`lc_ratios_57`でした。
# 2. **統合が単独モデルに勝つとは限らない。** {glue:text}`n_fusions_57` 種類の統合（{glue:text}`fusions_57`）を、RF と CGCNN の良い方（「{glue:text}`single_57`」）と比べると、差の 95 % 区間がゼロを含まずに良かったのは {glue:text}`n_fusion_better_57` 種類（{glue:text}`fusion_better_57`）、区別できなかったのは {glue:text}`n_fusion_tie_57` 種類（{glue:text}`fusion_tie_57`）、明確に悪かったのは {glue:text}`n_fusion_worse_57` 種類（{glue:text}`fusion_worse_57`）でした。統合の効果は、必ず同じ条件の単独モデルと、区間つきで比べて確かめます。
# 3. **重みを選ぶデータを間違えると、性能を読み誤る。** Late Fusion の重みは、検証データで選ぶと $\alpha$ = {glue:text}`alpha_val_57:.2f`、元の教材のように訓練データで選ぶと $\alpha$ = {glue:text}`alpha_train_57:.2f` でした。テスト MAE では、{glue:text}`leak_57`。
# 4. **角度の情報にはコストがかかる。** ALIGNN 完全版の学習時間は CGCNN の {glue:text}`alignn_time_57:.1f` 倍でした。精度では、{glue:text}`alignn_57`。
# 5. **マルチタスクの転移は測って判断する。** MEGNet のマルチタスク 4 通り × 2 タスク = {glue:text}`n_transfer_57` 個の組み合わせを単一タスクと区間つきで比べると、明確に悪化した（負の転移）のは {glue:text}`n_transfer_worse_57` 個、明確に改善したのは {glue:text}`n_transfer_better_57` 個、区別できなかったのは {glue:text}`n_transfer_tie_57` 個でした。
# 6. **差には区間をつける。** テストデータの物質数が限られているので、MAE の小さな差は偶然で入れ替わります。本章の比較の文は、差の 95 % 区間がゼロを含まないときだけ「良い」と書き、含むときは「区別できない」と書いています。

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
hl.predict.widget.page_table(predictions)

# %% tags=["remove-cell"]
# 本文の「全モデルの予測」を保証する
assert set(predictions["model"]) == set(hl.predict.book_models())
assert predictions["prediction"].notna().all()

# %% [markdown]
# 行がモデルと目的変数、列が結晶です。値に `*` が付いているのは、そのモデルの学習データの外にある入力です。学習データにない元素を含むか、学習データのどの単位胞よりも多くのサイトを持つ場合がこれに当たり、予測は外挿になります。学習データに同じ組成式の物質があれば、その中で最も安定な多形の DFT 値が「DFT（学習データ中の同じ組成式）」の行に入ります。結晶ごとの判定は次の表のとおりです（「—」は該当なし）。

# %%
hl.predict.widget.flag_table(predictions)

# %% tags=["remove-cell"]
unseen = predictions["unseen_elements"] != ""
hl.glue("flags_note_57", "。".join(
    ["ここで組み立てた結晶には、どのモデルの学習データにもない元素を含むものは"
     "ありません（表にその列がないのはそのためです）" if not unseen.any() else
     "学習データにない元素を含む結晶があります（表の「学習データにない元素」）"]
    + (["学習データのどの単位胞よりもサイトが多い結晶もありません"]
       if not predictions["too_many_sites"].any() else [])))

# %% [markdown]
# {glue:text}`flags_note_57`。
#
# 長い形式の表には、予測のばらつきの目安も入っています。複数の乱数の種で学習した run がレジストリにあるモデルは種の間の標準偏差、Late Fusion とスタッキングは組み合わせる RF と CGCNN の予測の開きです。ここで組み立てた結晶は実験の格子定数による理想構造で、学習データ（DFT で構造緩和した結晶）とは格子定数が少し異なることにも注意してください。次の表は Si（ダイヤモンド型）についての全モデルの予測値で、目安のないモデルは「—」です。

# %%
hl.predict.widget.spread_table(predictions, "Si (diamond)")

# %% [markdown]
# 次のセルは、ノートブックをカーネルにつないで実行したときだけ、結晶を選ぶ欄、CIF を貼り付ける欄と「予測する」ボタンを表示します。選んで押すと、上と同じ表がその場で作られます。ウィジェットは動いているカーネルが必要なので、この本のページ（静的な HTML）ではセルの下に何も表示されません。本として読んでいるときは、上の表が同じ内容です。ターミナルからは `python -m hybridlib.predict a.cif b.cif --out table.csv` で、いくつもの CIF をまとめて予測できます。読めないファイルがあっても、そのファイル名と理由を表示して残りを予測します。

# %% tags=["remove-output"]
hl.predict.widget.explorer(predictor)

# %% [markdown]
# ## まとめ：実務上の推奨
#
# - **まず単独モデルの基準を作る**：組成の RF と CGCNN を、同じ分割・同じ学習設定で測ります。統合の効果は、この基準との差でしか語れません。
# - **検証データを大切に**：重み、メタモデル、最良エポックの選択、ハイパーパラメータはすべて検証データ（または訓練データ内の交差検証）で決め、テストデータは最後に一度だけ使います。
# - **データ量に合わせる**：組成と構造のどちらが効くかは、データ量で変わりえます。{glue:text}`lc_trend_57`。学習曲線で自分のデータの位置を確かめましょう。
# - **精度と時間の両方を測る**：学習時間（と推論時間）も測り、パレート最適なモデルから用途に合うものを選びます。MAE ÷ 学習時間のような比で一つの数にまとめてはいけません（5.6 節）。
# - **差には区間をつける**：MAE の差の 95 % 区間がゼロを含むモデルどうしは、そのデータ量では区別できないものとして扱い、順位を付けません。この実行で、上の表のモデルのうち順位 1 に並んだのは {glue:text}`top_57` でした（推奨の詳細は 5.6 節）。
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
