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
# # 5.9 事前学習済みモデルの埋め込みとデータ漏洩
#
# 最新のハイブリッドモデルには、組成特徴量を、大量のデータで事前学習した大きなネットワークの埋め込みと組み合わせるものがあります。たとえば Matbench には、事前学習済みの原子間ポテンシャル MACE-MH-1 の記述子を凍結したまま Magpie 特徴量と連結し、`matbench_mp_e_form` でリーダーボード最上位と肩を並べる MAE を報告する公開投稿があります {cite}`alence2026macemh1`（まだ査読もマージもされていません）。ところが、事前学習のデータにテストの物質そのものが含まれていたかどうかは、誰も確かめていません。この節では、事前学習済みの重みを同梱していてオフラインで動く CHGNet {cite}`deng2023chgnet` を使い、同じ種類のハイブリッドを自分で作って、**事前学習データの中にあるはずの物質（MP サンプル）** と **外にある物質（Castelli のペロブスカイト）** での効き方を測ります。
#
# ```{admonition} 対象読者と学習目標
# :class: tip
# 前提：{doc}`05_2_early_fusion`、{doc}`05_3_late_fusion`、{doc}`05_6_comparison`。この節を終えると、
# - 事前学習済み CHGNet の結晶埋め込み（64 個の数）を計算・キャッシュし、Magpie と連結して RF や MLP に入力できる
# - 埋め込みを Late Fusion の第 3 の入力に加え、本書のモデルと同じ分割で比べられる
# - 対応のあるブートストラップで MAE の差の区間を求め、改善が偶然の範囲を超えるかを判断できる
# - 事前学習データとテストデータの重なりが、リーダーボードの数値に何を意味するかを説明し、重なりの確かめ方を挙げられる
# - 分布の違うデータで転移を測るとき、比べられる量と比べられない量を区別できる
# ```

# %% [markdown]
# ## この節の実行方法
#
# 次のセルは Google Colab で開いたときだけ、この本のパッケージ `hybridlib`（Materials Project の実データのサンプルを同梱）をリポジトリから入れます（{doc}`../book/setup`）。

# %% tags=["hide-cell", "remove-output"]
import sys
if "google.colab" in sys.modules:
    # %pip install -q "hybridlib @ git+https://github.com/OWNER/hybrid-book"

# %% [markdown]
# この節だけが使うパッケージ `chgnet`（事前学習済みの重みを同梱）を、Colab では次のセルで追加します。手元の環境では `pip install "hybridlib[pretrained]"` で入ります（`make install` は入れます）。

# %% tags=["hide-cell", "remove-output"]
if "google.colab" in sys.modules:
    # %pip install -q "chgnet>=0.4"

# %% [markdown]
# 乱数の種を固定し、プロファイルと二つのデータを読み込みます。`chgnet` が入っていなければ、`fp.require_chgnet()` が入れ方を示すエラーを出します。

# %%
import time

import numpy as np
import pandas as pd
import torch

import hybridlib as hl
from hybridlib.data.perovskites import load_perovskites
from hybridlib.experiments import pretrained as xp
from hybridlib.features import pretrained as fp

hl.setup(seed=0)
profile = hl.config.get_profile()
fp.require_chgnet()
mp = hl.data.load_dataset(profile)
perov = xp.perovskite_frame(profile).table
print(f"profile = {profile.name}, MP = {len(mp)}, "
      f"perovskites = {len(perov)}")

# %% [markdown]
# ## 5.9.1 CHGNet の結晶埋め込み
#
# CHGNet は、Materials Project の DFT 計算（緩和の途中の構造も含む）のエネルギー・力・応力・磁気モーメントを再現するように事前学習されたグラフニューラルネットワークです {cite}`deng2023chgnet`。内部では各原子が 64 次元の特徴ベクトルを持ち、エネルギーはこの原子ごとの特徴から読み出されます。その結晶全体での平均（`predict_structure(..., return_crystal_feas=True)` が返すベクトル）を、結晶を表す **固定の** 64 個の数として使います。CHGNet 自身は学習し直さない（凍結する）ので、埋め込みは構造ごとに一度だけ計算すれば足ります。
#
# `fp.chgnet_embeddings` は、構造の中身（元素・分率座標・格子）と、モデル（`chgnet` の版・チェックポイント名・重みのハッシュ）をキーにして、結果をディスクに保存します。二度目からは読み出すだけです。

# %%
X = fp.chgnet_embeddings(mp["structure"][:3], mp["material_id"][:3],
                         progress=False)
print(X.shape, X.dtype)
preview = pd.DataFrame(X[:, :6], index=mp["material_id"][:3],
                       columns=fp.embedding_labels()[:6])
headers = {c: f"埋め込み {k}" for k, c in enumerate(preview.columns)}
hl.tables.show(preview, labels={"material_id": "物質 ID", **headers})

# %% [markdown]
# 計算にかかる時間を、キャッシュを使わずにそれぞれ 100 構造で測ります（このページを実行したマシンでの値です）。ペロブスカイトは 1 セル 5 原子なので、MP サンプル（最大 20 原子）より速く計算できます。

# %%
def structures_per_second(table, n=100):
    part = table.sample(min(n, len(table)), random_state=0)
    start = time.perf_counter()
    fp.chgnet_embeddings(part["structure"], part["material_id"],
                         progress=False, cache=False)
    return len(part) / (time.perf_counter() - start)


speed = pd.Series({"MP": structures_per_second(mp),
                   "perovskites": structures_per_second(perov)})
cost = pd.DataFrame({"structures/s": speed.round().astype(int),
                     "materials": [len(mp), len(perov)]})
cost["minutes (estimate)"] = cost["materials"] / speed / 60
names = {"MP": "MP サンプル", "perovskites": "ペロブスカイト"}
hl.tables.show(cost.rename(index=names).rename_axis("data"),
               labels={"data": "データ", "structures/s": "毎秒の構造数",
                       "materials": "物質数",
                       "minutes (estimate)": "全物質の推定計算時間（分）"})

# %% tags=["remove-cell"]
assert X.shape == (3, fp.EMBEDDING_DIM) and np.isfinite(X).all()
hl.glue("speed_mp_59", speed["MP"])
hl.glue("speed_perov_59", speed["perovskites"])
hl.glue("minutes_59", cost["minutes (estimate)"].sum())
hl.glue("threads_59", torch.get_num_threads())

# %% [markdown]
# この実行では、MP サンプルで毎秒 {glue:text}`speed_mp_59:.0f` 構造、ペロブスカイトで毎秒 {glue:text}`speed_perov_59:.0f` 構造（torch のスレッド数 {glue:text}`threads_59`）でした。このプロファイルの全物質を一から計算すると約 {glue:text}`minutes_59:.1f` 分かかる見積もりですが、結果はキャッシュに残るので、二度目のビルドからは読み出すだけです。

# %% [markdown]
# ## 5.9.2 MP サンプル：Magpie ⊕ 埋め込み
#
# 本書の他の節と **同じ物質・同じ分割** で、次のモデルを比べます。
#
# - `rf_chgnet`：埋め込み（64）だけのランダムフォレスト
# - `rf_magpie_chgnet`：Magpie（132）と埋め込み（64）を連結したランダムフォレスト
# - `mlp_magpie_chgnet`：5.2 節の Early Fusion と同じ MLP の頭で、学習する CGCNN の代わりに凍結した CHGNet の埋め込みを使うもの（同じ学習ループ、同じ学習量）
# - `stacking_chgnet`：5.3 節のスタッキングに、埋め込みの RF の予測を第 3 の入力として加えたもの（重みは検証データの予測で学習）

# %% tags=["remove-output", "nbval-ignore-output"]
MP_MODELS = ["rf_magpie", "rf_chgnet", "rf_magpie_chgnet", "cgcnn",
             "early_fusion", "mlp_magpie_chgnet", "stacking",
             "stacking_chgnet"]
mp_table = hl.tables.metrics_table(MP_MODELS, "e_form", profile)

# %%
hl.tables.show(mp_table, ["model", "mae", "rmse", "r2", "train_time_s"])

# %% [markdown]
# テスト MAE の差が偶然の範囲を超えるかを、**対応のあるブートストラップ** で調べます。テストの物質を復元抽出で選び直した集合（既定で 2000 回）の上で、二つのモデルを **同じ物質で** 採点し、MAE の差 $\Delta = \mathrm{MAE}_a - \mathrm{MAE}_b$ の分布の 2.5〜97.5 % 点を 95 % 区間とします（`xp.paired_bootstrap`）。$\Delta > 0$ なら b（候補）の方が良く、区間が 0 をまたぐなら、このテストデータの大きさでは差があるとは言えません。「相対改善」は $1 - \mathrm{MAE}_b / \mathrm{MAE}_a$ です。

# %%
def show_comparison(table, unit):
    """A comparison_table with Japanese headers (a: baseline, b: candidate)."""
    name = {n: hl.tables.MODELS[n][0] for n in
            set(table["baseline"]) | set(table["candidate"])}
    shown = table.assign(
        baseline=table["baseline"].map(name),
        candidate=table["candidate"].map(name),
        diff_ci=hl.tables.interval_column(table, "diff", signed=True),
        gain_ci=hl.tables.interval_column(table, "gain", 3, signed=True))
    labels = {"baseline": "a（基準）", "candidate": "b（候補）",
              "mae_a": f"MAE a ({unit})", "mae_b": f"MAE b ({unit})",
              "diff_ci": f"差 Δ = a − b [95 % 区間] ({unit})",
              "gain_ci": "相対改善 1 − b/a [95 % 区間]"}
    return hl.tables.show(shown, list(labels), labels=labels)


MP_PAIRS = [("rf_magpie", "rf_magpie_chgnet"), ("rf_magpie", "rf_chgnet"),
            ("early_fusion", "mlp_magpie_chgnet"),
            ("stacking", "stacking_chgnet")]
mp_cmp = xp.comparison_table(MP_PAIRS, "e_form", profile)
show_comparison(mp_cmp, "eV/atom")

# %% [markdown]
# バンドギャップでも、森に埋め込みを加えた効果を同じ方法で測ります。

# %%
gap_cmp = xp.comparison_table([("rf_magpie", "rf_magpie_chgnet")],
                              "band_gap", profile)
show_comparison(gap_cmp, "eV")

# %% tags=["remove-cell"]
#: How the candidate's MAE moved against the baseline's, as a sentence ending
#: (by the sign of the paired interval of diff = MAE_a - MAE_b).
CHANGE = {1: "小さくなりました（差の区間が 0 より上）",
          -1: "大きくなりました（差の区間が 0 より下）",
          0: "はっきりとは変わりませんでした（差の区間が 0 をまたぐ）"}


def glue_verdict(name, row):
    side = (1 if row["diff_low"] > 0 else -1 if row["diff_high"] < 0
            else 0)
    hl.glue(name, CHANGE[side])


for key, row in zip(["rf", "alone", "mlp", "stack"],
                    mp_cmp.to_dict("records")):
    glue_verdict(f"v_{key}_mp_59", row)
glue_verdict("v_gap_mp_59", gap_cmp.iloc[0])
hl.glue("gain_rf_mp_59", 100 * mp_cmp.iloc[0]["gain"])
assert list(zip(mp_cmp["baseline"], mp_cmp["candidate"])) == MP_PAIRS

# %% [markdown]
# この実行では、Magpie の森に埋め込みを加えると、生成エネルギーの MAE は {glue:text}`v_rf_mp_59`（相対改善 {glue:text}`gain_rf_mp_59:.1f` %）。埋め込みだけの森の MAE は、Magpie の森と比べて {glue:text}`v_alone_mp_59`。Early Fusion の CGCNN を凍結した CHGNet に置き換えると、MAE は {glue:text}`v_mlp_mp_59`。スタッキングに第 3 の入力として加えると、MAE は {glue:text}`v_stack_mp_59`。バンドギャップでは、埋め込みを加えた森の MAE は {glue:text}`v_gap_mp_59`。

# %% [markdown]
# ## 5.9.3 ペロブスカイト：事前学習データの外
#
# 次に、Castelli らの立方晶ペロブスカイト {cite}`castelli2012new,castelli2012perovskite` で同じことをします。ABX₃ 型の 5 原子セルで、目的変数は RPBE で計算した **セル全体の** 生成熱 `heat_all`（eV/セル）です。これは Materials Project の計算ではなく（Computational Materials Repository の、多くは仮想的な組成）、CHGNet の事前学習データには含まれていないはずの物質です。比較はすべて **ペロブスカイトの中で** 学習・評価します（分割の規則は MP サンプルと同じ）。比較の相手には、本書の CGCNN をペロブスカイトでゼロから学習したもの（`perov_cgcnn`：構造は見るが事前学習はない）も加えます。

# %% tags=["remove-output", "nbval-ignore-output"]
PEROV_MODELS = ["perov_rf_magpie", "perov_rf_chgnet",
                "perov_rf_magpie_chgnet", "perov_cgcnn",
                "perov_mlp_magpie_chgnet"]
perov_table = hl.tables.metrics_table(PEROV_MODELS, "heat_all", profile)
all_perov = load_perovskites()

# %%
hl.tables.show(perov_table,
               ["model", "mae", "rmse", "r2", "train_time_s"],
               unit="eV/セル")

# %% [markdown]
# RMSE が MAE よりずっと大きい行は、少数の物質で予測が大きく外れていることを示します（R² は負にもなります）。MLP について、テスト誤差がいちばん大きい物質と、その物質の Magpie 特徴量を MLP と同じように訓練データの平均と標準偏差で標準化した値を調べます。

# %%
mlp = hl.experiments.run("perov_mlp_magpie_chgnet", profile).predictions
mlp = mlp[mlp["split"] == "test"].merge(perov[["material_id", "formula"]])
mlp["error"] = (mlp["heat_all_pred"] - mlp["heat_all"]).abs()
worst = mlp.loc[mlp["error"].idxmax()]
train_comp = xp.feature_matrix(perov[perov["split"] == "train"], ["magpie"])
worst_comp = xp.feature_matrix(perov[perov["material_id"]
                                     == worst["material_id"]], ["magpie"])[0]
mean, sd = np.nanmean(train_comp, axis=0), np.nanstd(train_comp, axis=0)
z = np.abs(worst_comp - mean) / np.where(sd > 0, sd, 1.0)
top = int(np.nanargmax(z))
outlier = pd.Series({
    "組成式": worst["formula"],
    "正解 (eV/セル)": f"{worst['heat_all']:.2f}",
    "MLP の予測 (eV/セル)": f"{worst['heat_all_pred']:.1f}",
    "標準化した値が最大の特徴量": hl.features.feature_labels("magpie")[top],
    "その特徴量の訓練データでの標準偏差": f"{sd[top]:.1e}",
    "標準化した値": f"{z[top]:.1e}"})
hl.tables.show(outlier, labels={"value": "値"})

# %% tags=["remove-cell"]
rest = mlp.drop(index=worst.name)
hl.glue("worst_formula_59", worst["formula"])
hl.glue("worst_error_59", worst["error"])
hl.glue("mlp_mae_59", mlp["error"].mean())
hl.glue("mlp_mae_rest_59", rest["error"].mean())
hl.glue("n_big_59", int((mlp["error"] > 1.0).sum()))
hl.glue("n_test_59", len(mlp))
if z[top] > 100:
    hl.glue("worst_story_59",
            "この物質の特徴量のひとつは、訓練データではほとんど一定（ほぼすべてが"
            "同じ値）なので標準偏差がごく小さく、標準化すると "
            f"{z[top]:.1e} という桁外れの値になります。学習中に一度も見なかった"
            "大きさの入力なので、MLP の出力もとんでもない値になりました。")
else:
    hl.glue("worst_story_59", "この実行では、標準化した特徴量に桁外れの値"
            "（100 を超えるもの）はありませんでした。")

# %% [markdown]
# 誤差が 1 eV/セルを超えたのは {glue:text}`n_test_59` 個のテスト物質のうち {glue:text}`n_big_59` 個で、最大は {glue:text}`worst_formula_59` の {glue:text}`worst_error_59:.1f` eV/セルでした。{glue:text}`worst_story_59` この一つの物質を除くと、MLP の MAE は {glue:text}`mlp_mae_59:.3f` から {glue:text}`mlp_mae_rest_59:.3f` eV/セルになります。木の分割は値の大小の順序しか使わないので、ランダムフォレストでは、標準化の尺度がこのように予測を壊すことはありません。**ほとんど一定の特徴量を標準化するときは、標準偏差に下限を設けるか、そのような特徴量を除く** のが安全です。本書の Early Fusion も同じ標準化を使っているので、訓練データで一定に近い特徴量を持つ物質を予測するときは同じ危険があります（ここでの比較は、MLP をこの欠点ごと測った結果です）。

# %% [markdown]
# このデータには、**組成が同じで構造の違う** 物質の組があります（データ全体では物質の {glue:text}`twin_all_59:.0f` %）。組成だけを見る Magpie の特徴量は、組の二つを区別できません。同じ組成がこのプロファイルの表に 2 回以上現れる物質と、そうでない物質とで、Magpie の森の誤差を比べます。

# %%
test = hl.experiments.run("perov_rf_magpie", profile).predictions
test = test[test["split"] == "test"].merge(perov[["material_id", "formula"]])
twin = test["formula"].isin(perov["formula"][perov["formula"].duplicated()])
error = (test["heat_all_pred"] - test["heat_all"]).abs()
hl.tables.show(pd.Series({
    "テスト物質のうち同じ組成の相手がいるものの割合": twin.mean(),
    "MAE：同じ組成の相手がいる物質 (eV/セル)": error[twin].mean(),
    "MAE：それ以外の物質 (eV/セル)": error[~twin].mean()}))

# %%
PEROV_PAIRS = [("perov_rf_magpie", "perov_rf_magpie_chgnet"),
               ("perov_rf_magpie", "perov_cgcnn"),
               ("perov_cgcnn", "perov_rf_magpie_chgnet"),
               ("perov_rf_magpie", "perov_mlp_magpie_chgnet")]
perov_cmp = xp.comparison_table(PEROV_PAIRS, "heat_all", profile)
show_comparison(perov_cmp, "eV/セル")

# %% tags=["remove-cell"]
for key, row in zip(["rf", "cgcnn", "pre", "mlp"],
                    perov_cmp.to_dict("records")):
    glue_verdict(f"v_{key}_perov_59", row)
hl.glue("gain_rf_perov_59", 100 * perov_cmp.iloc[0]["gain"])
hl.glue("twin_share_59", 100 * twin.mean())
hl.glue("twin_all_59", 100 * all_perov["formula"].duplicated(keep=False).mean())
assert list(zip(perov_cmp["baseline"], perov_cmp["candidate"])) == PEROV_PAIRS

# %% [markdown]
# この実行のテストデータでは、物質の {glue:text}`twin_share_59:.0f` % が「同じ組成の相手がいる」物質でした。Magpie の森に埋め込みを加えると、MAE は {glue:text}`v_rf_perov_59`（相対改善 {glue:text}`gain_rf_perov_59:.1f` %）。構造を見る CGCNN をゼロから学習すると、MAE は Magpie の森と比べて {glue:text}`v_cgcnn_perov_59`。事前学習の埋め込みを使う森の MAE は、ゼロから学習した CGCNN と比べて {glue:text}`v_pre_perov_59`。埋め込みを使う MLP の MAE は、Magpie の森と比べて {glue:text}`v_mlp_perov_59`。

# %% [markdown]
# ## 5.9.4 漏洩の教訓：どこで、なぜ効いたのか
#
# 二つのデータで、同じ操作（Magpie の森に埋め込みを加える）の相対改善を並べます。単位の違うデータどうしなので、MAE の差ではなく相対改善で比べます。

# %% tags=["remove-cell"]
# 図の作成専用セル：相対改善とその 95 % 区間
import matplotlib.pyplot as plt

gains = pd.DataFrame([mp_cmp.iloc[0], perov_cmp.iloc[0]],
                     index=["MP サンプル（e_form）",
                            "ペロブスカイト（heat_all）"])
fig, ax = plt.subplots(figsize=(6.4, 2.2))
err = [100 * (gains["gain"] - gains["gain_low"]),
       100 * (gains["gain_high"] - gains["gain"])]
ax.barh(gains.index, 100 * gains["gain"], xerr=err,
        color=["#4C72B0", "#DD8452"])
ax.axvline(0, color="black", linewidth=0.8)
ax.set_xlabel("Magpie の森に埋め込みを加えたときの MAE の相対改善（%）")
fig.tight_layout()
hl.glue("fig-gain-59", fig, display=False)
plt.close(fig)
mp_gain, perov_gain = mp_cmp.iloc[0], perov_cmp.iloc[0]
if perov_gain["gain_low"] > mp_gain["gain_high"]:
    hl.glue("gain_order_59", "ペロブスカイトの方がはっきり大きい")
elif mp_gain["gain_low"] > perov_gain["gain_high"]:
    hl.glue("gain_order_59", "MP サンプルの方がはっきり大きい")
else:
    hl.glue("gain_order_59", "区間が重なり、どちらが大きいとも言えない")

# %% [markdown]
# ```{glue:figure} fig-gain-59
# :name: fig-gain-59
# Magpie の森に CHGNet の埋め込みを加えたときのテスト MAE の相対改善（このページの実行、誤差棒は対応のあるブートストラップの 95 % 区間）。
# ```
#
# この実行では、改善の大きさは「{glue:text}`gain_order_59`」という結果でした（{numref}`fig-gain-59`）。
#
# この比較を読むには、事前学習のデータに何が入っていたかを知る必要があります。`chgnet` のパッケージには、同梱の重みの説明書きが入っているので、オフラインで確かめられます。

# %%
card = fp.model_card()
print(card[card.index("## Dataset Used"):].split("\n## ")[0])

# %% [markdown]
# CHGNet の README によれば、MPtrj {cite}`mptrj2023` は 2022 年 9 月時点の Materials Project の GGA/GGA+U 計算すべてから作られています {cite}`deng2023chgnet`。そして 0.3.0 の重みは、その 9 割で学習されました（上の説明書き）。本書の MP サンプルは 2021 年ごろに Materials Project から取られた、ICSD 由来の安定に近い結晶（MP-20 {cite}`xie2022cdvae`）なので、その大部分は MPtrj に含まれ、しかも多くは CHGNet の学習に使われたはずです。つまり MP サンプルのテスト物質について、CHGNet は **DFT のエネルギーをすでに見ています**。生成エネルギーは全エネルギーと元素ごとの基準エネルギーから決まる量なので、埋め込みにはテストの答えに近い情報が入りえます。これがデータ漏洩です。一方、ペロブスカイトは Materials Project の計算ではないので、その改善は事前学習データの外での改善です。
#
# ただし、上の二つの改善の大小だけで「漏洩の大きさ」は測れません。ペロブスカイトには組成の同じ組があり（5.9.3 節）、そこでは構造の情報が、Magpie に欠けている情報を補うからです。そこで、構造を見るが事前学習のない CGCNN との比較（5.9.3 節の表の 3 行目）が、事前学習そのものの寄与を切り分けます。MP サンプルでは、テスト物質が事前学習データに入っている可能性が高いので、そのような「外での」比較ができません。
#
# **リーダーボードの数値への意味**：`matbench_mp_e_form` の物質も Materials Project の結晶です {cite}`dunn2020matbench`。MPtrj のように Materials Project から作ったデータで事前学習したモデルを使うと、テストの物質のエネルギーが事前学習に含まれていた可能性が高く、その MAE は「新しい物質を予測する力」ではなく「見たことのある物質を再現する力」を含みます。冒頭の公開投稿 {cite}`alence2026macemh1` は、テスト物質が事前学習データに含まれていたかを述べていません。このような数値は、訓練用の分割だけで学習したモデルの数値とは同じ土俵にありません。5.6 節の文献値の表では、査読を経た掲載値と、未査読の公開投稿を分けて示しています。

# %% [markdown]
# ### 重なりを確かめるには
#
# **物質 ID で**：MPtrj の JSON ファイル（figshare で公開、非常に大きなファイル）は Materials Project の物質 ID ごとに構造をまとめています。ダウンロードできれば、次のように共通部分を数えられます（オフラインの本書では実行しません）。
#
# ```python
# import json
# mptrj_ids = set(json.load(open("MPtrj_2022.9_full.json")))  # 物質 ID がキー
# shared = set(test_ids) & mptrj_ids
# ```
#
# **構造で**：ID が使えないとき（Matbench の物質には独自の ID しかありません）は、化学式が同じ組を `StructureMatcher` で照合します（`xp.structure_overlap`）。体積をそろえて比べるので、別の汎関数で緩和した同じ結晶も一致します。オフラインでできるのは、手元にある Materials Project の結晶、つまり MP サンプル全体との照合です。

# %% tags=["remove-output", "nbval-ignore-output"]
overlap = xp.structure_overlap(all_perov, hl.data.load_mp_sample())

# %%
same = overlap[overlap["same_structure"]]
hl.tables.show(pd.Series({
    "ペロブスカイト（全体）": len(all_perov),
    "MP サンプルに同じ化学式があるもの": overlap["query_id"].nunique(),
    "MP サンプルに同じ結晶があるもの": same["query_id"].nunique()}, name="n"))

# %% tags=["remove-cell"]
hl.glue("n_formula_59", overlap["query_id"].nunique())
hl.glue("n_same_59", same["query_id"].nunique())

# %% [markdown]
# ペロブスカイトのうち {glue:text}`n_formula_59` 件は MP サンプルにも同じ化学式があり、そのうち {glue:text}`n_same_59` 件は同じ結晶でした。MP サンプルで一致した物質は Materials Project にあるので、MPtrj にも含まれている可能性があります。一方、MP サンプルで一致しなくても、Materials Project 全体や MPtrj にないとは言えません（MP サンプルはその一部です）。オフラインでは確かめられないことは、次のとおりです。
#
# - MPtrj の物質 ID と構造の完全な一覧（上の大きなファイルが必要）
# - CHGNet 0.3.0 が MPtrj のどの物質を学習に使い、どれを検証・テストに回したか（説明書きには 9:0.5:0.5 の比率しか書かれていません）
# - Matbench のテスト物質と MPtrj の重なり（Matbench の全データと MPtrj の両方が必要）

# %% [markdown]
# ## 5.9.5 分布の違い：MP で学習し、ペロブスカイトで評価する
#
# MP サンプルで学習したモデルを、ペロブスカイトにそのまま当てはめるとどうなるでしょうか。まず、何が比べられて何が比べられないかを整理します。
#
# - **エネルギー**：MP の `e_form` は 1 原子あたり（eV/atom）、PBE/PBE+U に Materials Project の補正を加えた値です。ペロブスカイトの `heat_all` は 5 原子セル全体（eV/セル）、RPBE で、元素の基準エネルギーも独自です。このままでは比べられません。せいぜい「陰イオンの組み合わせ（O₃、NO₂ など 7 種）ごとに一定のずれ」を除けば比べられる、という程度です。そこで、予測を 5 倍してセルあたりにし、陰イオンの組ごとのずれ（中央値、7 個の数）を **ペロブスカイトの訓練データだけ** で推定して足します。モデルにとって最も有利な比べ方で、テストの目的変数は一切使いません。それでも遷移金属の +U 補正のような違いは残ります。
# - **バンドギャップ**：MP は PBE、ペロブスカイトは GLLB-SC で、しかも 0 が「金属」なのか「計算していない」のかが記録にありません。比べられないので、比べません。
#
# 同じペロブスカイトのテスト物質で、MP から転用したモデル（`shift_*`）と、ペロブスカイトの中で学習したモデルを比べます。

# %% tags=["remove-output", "nbval-ignore-output"]
SHIFT_PAIRS = [("shift_rf_magpie", "perov_rf_magpie"),
               ("shift_rf_magpie_chgnet", "perov_rf_magpie_chgnet"),
               ("shift_rf_magpie", "shift_rf_magpie_chgnet")]
shift_cmp = xp.comparison_table(SHIFT_PAIRS, "heat_all", profile)
shift = {n: hl.experiments.run(n, profile)
         for n in ("shift_rf_magpie", "shift_rf_magpie_chgnet")}

# %%
show_comparison(shift_cmp, "eV/セル")

# %% [markdown]
# 入力の分布のずれも測れます。MP の訓練データの特徴量（標準化したもの）で、各テスト物質に最も近い訓練物質までの距離の中央値を、MP のテスト物質とペロブスカイトのテスト物質で比べます。目的変数を使わないので、単位の問題はありません。

# %%
medians = pd.DataFrame({name: run.extra["nn_distance_median"]
                        for name, run in shift.items()})
rows = {"mp_test": "MP のテスト物質",
        "perovskite_test": "ペロブスカイトのテスト物質"}
hl.tables.show(medians.rename(index=rows).rename_axis("query"),
               labels={"query": "テスト物質",
                       "shift_rf_magpie": "距離の中央値：Magpie",
                       "shift_rf_magpie_chgnet":
                           "距離の中央値：Magpie ⊕ CHGNet"})

# %% tags=["remove-cell"]
for key, row in zip(["rf", "fused", "emb"], shift_cmp.to_dict("records")):
    glue_verdict(f"v_{key}_shift_59", row)
distance = shift["shift_rf_magpie"].extra["nn_distance_median"]
hl.glue("dist_ratio_59", distance["perovskite_test"] / distance["mp_test"])
assert list(zip(shift_cmp["baseline"], shift_cmp["candidate"])) == SHIFT_PAIRS

# %% [markdown]
# Magpie の空間では、ペロブスカイトのテスト物質は MP の訓練物質から、MP のテスト物質の {glue:text}`dist_ratio_59:.1f` 倍離れていました。ペロブスカイトの中で学習した森の MAE は、MP から転用した森と比べて {glue:text}`v_rf_shift_59`。埋め込みを加えた森どうしでは、MAE は {glue:text}`v_fused_shift_59`。MP から転用した森に埋め込みを加えると、MAE は {glue:text}`v_emb_shift_59`。MP-20 は安定に近い結晶だけを集めたデータで、ペロブスカイトの多くは仮想的で不安定なので、目的変数の範囲そのものが違います。

# %% [markdown]
# ## まとめ
#
# - 事前学習済みの CHGNet の結晶埋め込みは、構造ごとに一度計算して保存すれば、RF や MLP の入力として Magpie と簡単に連結できます。
# - 改善の大きさは、同じテスト物質での対応のあるブートストラップの区間で判断します。
# - 事前学習データ（MPtrj）は Materials Project の計算からできているので、MP の物質での改善には漏洩が含まれえます。事前学習データの外（ここではペロブスカイト）で、構造を見るが事前学習のないモデルと比べて、初めて事前学習の寄与が分かります。
# - 事前学習済みモデルを使ったリーダーボードの数値は、テスト物質と事前学習データの重なり（物質 ID や構造の照合）を確かめるまで、他の数値と同じ土俵に置けません。
# - 別のデータへの転用では、比べられる量（ここでは陰イオンの組ごとのずれを除いたエネルギー）と比べられない量（バンドギャップ）を分けてから測ります。
#
# ## 演習
#
# この節の内容は、{doc}`05_8_exercises` の演習 5（ハイブリッド手法の選択）で、事前学習済みの埋め込みを選択肢に加えて考えてみてください。さらに次の問いにも取り組んでみましょう。
#
# 1. ★ `fp.chgnet_embeddings(..., model_name="0.2.0")` で古い重みの埋め込みを作り、`structure_fingerprint` が同じでもキャッシュが別になることを確かめなさい。
# 2. ★★ 5.9.5 節の陰イオンの組ごとのずれを、訓練データではなくテストデータで推定すると MAE はどう変わるか。なぜそれが誤りなのかを説明しなさい。
#
# ## 参考文献
#
# ```{bibliography}
# :filter: docname in docnames
# ```
