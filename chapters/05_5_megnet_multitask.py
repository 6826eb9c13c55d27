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
from hybridlib.report import claims

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
shared = ["material_id", "structure"]
left = df[shared + ["e_form"]].sample(frac=1.0, random_state=1)
right = df[shared + ["band_gap"]].sample(frac=1.0, random_state=2)
joined = hl.data.join_by_structure(left.head(300), right,
                                   suffixes=("", "_gap"), report=False)
agree = joined["material_id"] == joined["material_id_gap"]
print(f"matched {joined.attrs['n_matched']} of 300 left rows "
      f"({len(right)} right rows)")
print("key collisions checked with StructureMatcher:",
      joined.attrs["n_collisions_checked"])
print("ids agree:", bool(agree.all()))

# %% [markdown]
# ## 5.5.3 MEGNet ブロック
#
# MEGNet のグラフは、ノード（原子）$v_i$、エッジ（結合）$e_k$、**大域状態** $u$（結晶全体の量、例えば温度や圧力。結晶では既定で $[0, 0]$）の三種類の特徴量を持ちます。一つのブロックは次の順に更新します（{numref}`fig-megnet-55`）。
#
# $$
# \begin{aligned}
# \mathbf{e}_k' &= \phi_e(\mathbf{v}_{s_k} \oplus \mathbf{v}_{r_k} \oplus \mathbf{e}_k \oplus \mathbf{u}), \\
# \mathbf{v}_i' &= \phi_v(\bar{\mathbf{e}}_i' \oplus \mathbf{v}_i \oplus \mathbf{u}), \\
# \mathbf{u}' &= \phi_u(\bar{\mathbf{e}}' \oplus \bar{\mathbf{v}}' \oplus \mathbf{u})
# \end{aligned}
# $$
#
# ここで $s_k, r_k$ はエッジの送り手と受け手、$\bar{\mathbf{e}}_i'$ は原子 $i$ に入るエッジの平均、$\bar{\mathbf{e}}', \bar{\mathbf{v}}'$ は結晶全体の平均です。各ブロックには残差接続があり、最後にノードとエッジを Set2Set {cite}`vinyals2016order` で読み出して大域状態と連結します。元の教材のコードは「MEGNet 風」と称して GATConv を重ねていましたが、これはエッジも大域状態も更新しないので MEGNet ではありません。

# %% tags=["remove-cell"]
hl.glue("fig-megnet-55", hl.plots.megnet_block(), display=False)

# %% [markdown]
# ```{glue:figure} fig-megnet-55
# :name: fig-megnet-55
# MEGNet ブロックの更新の流れ。
# ```

# %% [markdown]
# 本書の MEGNet は、ブロックの構成・幅は論文と matgl の実装に合わせていますが、二点だけ選択をしています。**原子の入力** は、CGCNN と ALIGNN と同じ 92 次元の化学的な記述子（CGCNN の著者が公開した原子特徴量表。matminer が `cgcnn_atom_feature.json` として同梱）を線形層で 16 次元にしたものです（論文は元素ごとに 16 次元のベクトルを一から学習する埋め込みを使います。この違いは 5.5.4 で測ります）。**初期化** は、元の Keras 実装と matgl の学習スクリプトと同じく、全結合層の重みを Glorot（Xavier）一様分布、バイアスを 0 にしています。

# %%
model = hl.models.MEGNet(n_targets=2)
print(model)
print("parameters (2 targets):", sum(p.numel() for p in model.parameters()))
model.blocks[0]

# %% [markdown]
# ## 5.5.4 単一タスクの MEGNet：元素をどう入力するか
#
# マルチタスクの前に、比較の基準になる単一タスクの MEGNet を確かめます。どちらも目的変数を訓練データで標準化し、他のモデルと同じ学習設定（同じステップ数、スケジュールを最後まで）で学習しています。**化学的な原子特徴量表** を入力にした MEGNet と、論文どおり **元素ごとの埋め込みを学習する** MEGNet、そして CGCNN を並べます。

# %% tags=["remove-output", "nbval-ignore-output"]
from hybridlib.report import training_plots

SINGLE = {"cgcnn": "CGCNN", "megnet_e_form": "MEGNet（原子特徴量表）",
          "megnet_e_form_embedding": "MEGNet（元素埋め込みを学習）"}
single = training_plots.training_summary(SINGLE, profile, labels=SINGLE)

# %%
hl.tables.show(single, ["model", "mae", "best_epoch", "epochs_run",
                        "steps_run", "train_time_s"])

# %% tags=["remove-cell"]
m = single["mae"]
hl.glue("megnet_vs_cgcnn_55", m["megnet_e_form"] / m["cgcnn"])
hl.glue("embedding_vs_table_55",
        100 * (m["megnet_e_form_embedding"] / m["megnet_e_form"] - 1))
embedding = hl.tables.difference_table(
    ["megnet_e_form", "megnet_e_form_embedding"], "megnet_e_form", "e_form",
    profile).set_index("experiment").loc["megnet_e_form_embedding"]
interval = (f"[{embedding['diff_low']:+.4f}, {embedding['diff_high']:+.4f}]"
            " eV/atom")
hl.glue("embedding_interval_55", interval)
hl.glue("embedding_verdict_55", {
    "worse": "埋め込みを学習した MEGNet の方が悪いと言えます",
    "tie": "このデータ量では二つを区別できません",
    "better": "埋め込みを学習した MEGNet の方が良いと言えます",
}[embedding["verdict"]])
hl.glue("embedding_zero_55", "ゼロを含む" if embedding["verdict"] == "tie"
        else "ゼロを含まない")
hl.glue("embedding_hypothesis_55", {
    "worse": "この差の原因として考えられるのは、元素についての事前知識をどこから得るか"
             "です（仮説で、このページでは原因までは確かめていません）",
    "tie": "差が区別できないので、次の説明は測定で確かめたことではなく、"
           + ("点推定の向き（埋め込みの方が MAE が大きい）と矛盾しない見込み（仮説）です"
              if embedding["diff"] > 0 else
              "一般に言われる見込み（仮説）です。点推定はむしろ逆向きでした"),
    "better": "これは次の見込みとは逆の結果で、このデータではその見込みが当てはまり"
              "ませんでした",
}[embedding["verdict"]])

# %% tags=["remove-cell"]
counts = df[df["split"] == "train"]["formula"].str.findall(r"[A-Z][a-z]?")
counts = counts.explode().value_counts()
hl.glue("n_rare_elements_55", int((counts < 20).sum()))
hl.glue("n_elements_55", len(counts))
assert (single["steps_run"] >= profile.training.steps).all()

# %% [markdown]
# MEGNet（原子特徴量表）のテスト MAE は CGCNN の {glue:text}`megnet_vs_cgcnn_55:.2f` 倍でした。元素の埋め込みを一から学習した MEGNet と原子特徴量表を使った MEGNet の MAE の差（前者 − 後者）の 95 % 区間は {glue:text}`embedding_interval_55` で{glue:text}`embedding_zero_55`ので、{glue:text}`embedding_verdict_55`（点推定での MAE の変化は {glue:text}`embedding_vs_table_55:+.1f` % で、正は埋め込みを学習した方が大きいことを表します）。
#
# {glue:text}`embedding_hypothesis_55`。埋め込みを学習する場合、各元素のベクトルは、その元素を含む訓練データの結晶からしか学べません。このページの訓練データに現れる {glue:text}`n_elements_55` 元素のうち {glue:text}`n_rare_elements_55` 元素は、含む物質が 20 件未満（組成式から数えたもの）で、そうした元素のベクトルは初期値からあまり動かないと考えられます。原子特徴量表は族・周期・電気陰性度・共有結合半径などを最初から与えるので、似た元素は最初から似たベクトルから出発し、まれな元素も化学的に近い元素から情報を借りられるはずです。論文の MEGNet は Materials Project の数万件の結晶で学習しているので {cite}`chen2019megnet`、埋め込みを一から学んでも問題になりにくいと考えられます。この見込みを確かめるには、訓練データの量を変えたり乱数の種を変えたりして、差がどう動くかを測る必要があります。

# %% [markdown]
# ## 5.5.5 組成を大域状態に入れる：中間融合
#
# MEGNet の大域状態 $\mathbf{u}$ は、結晶全体の量を入れる場所です。ここに **標準化した Magpie 組成特徴量** を入れると（`hl.models.MEGNet.with_composition_state`）、状態のエンコーダ $D_u$ が組成を射影し、すべてのブロックで結合と原子の更新に組成の情報が混ざります。
#
# $$\mathbf{u}^{(0)} = D_u(\tilde{\mathbf{c}}), \qquad \mathbf{e}_k' = \phi_e(\mathbf{v}_{s_k} \oplus \mathbf{v}_{r_k} \oplus \mathbf{e}_k \oplus \mathbf{u}), \ \dots$$
#
# 組成と構造をネットワークの **内部で** 混ぜる融合は、本書ではこれだけです（5.2 節の Early Fusion は出力 MLP の直前で、5.3 節の Late Fusion は予測どうしを混ぜます）。同じデータ・同じ学習設定で比べます。

# %% tags=["remove-output", "nbval-ignore-output"]
FUSION = {"megnet_e_form": "MEGNet（u = 0）",
          "megnet_state_fusion": "MEGNet（u = 組成）",
          "early_fusion": "Early Fusion（5.2 節）",
          "late_fusion_val": "Late Fusion（5.3 節）"}
fusion = hl.tables.difference_table(FUSION, "megnet_e_form", "e_form", profile)
fusion["model"] = fusion["experiment"].map(FUSION)


def signed(value, digits=4):
    """+0.0123; more decimals when 4 would round a nonzero bound to 0."""
    while round(value, digits) == 0 and value != 0 and digits < 8:
        digits += 1
    return f"{value:+.{digits}f}"


fusion["diff (95 %)"] = [
    "基準" if name == "megnet_e_form" else
    f"{signed(d)} [{signed(lo)}, {signed(hi)}]" for name, d, lo, hi in
    fusion[["experiment", "diff", "diff_low", "diff_high"]].itertuples(
        index=False)]

# %%
hl.tables.show(fusion, ["model", "mae", "diff (95 %)", "verdict", "rmse", "r2",
                        "train_time_s"])

# %% tags=["remove-cell"]
f = fusion.set_index("experiment")["mae"]
hl.glue("state_vs_megnet_55", 100 * (f["megnet_state_fusion"] / f["megnet_e_form"] - 1))
hl.glue("state_fusion_mae_55", f["megnet_state_fusion"])
fusion_predictions = hl.tables.test_predictions(list(FUSION), "e_form",
                                                profile)
order = f.sort_values().index
hl.glue("best_fusion_55", FUSION[order[0]])
hl.glue("best_fusion_vs_second_55", claims.compare(
    fusion_predictions, order[0], order[1], labels=FUSION).sentence())
top = claims.top_group(claims.rank_with_ties(fusion_predictions))
hl.glue("fusion_top_55", claims.listing(f"「{FUSION[n]}」" for n in top))
hl.glue("n_fusion_top_55", len(top))
state = fusion.set_index("experiment").loc["megnet_state_fusion", "verdict"]
hl.glue("state_verdict_55", {
    "better": "差の 95 % 区間はゼロを含まず、組成を状態に入れると良くなったと言えます",
    "tie": "差の 95 % 区間はゼロを含み、このデータ量では区別できません",
    "worse": "差の 95 % 区間はゼロを含まず、組成を状態に入れると悪くなったと言えます",
}[state])

# %% [markdown]
# 組成を大域状態に入れた MEGNet のテスト MAE は {glue:text}`state_fusion_mae_55:.4f` eV/atom で、状態を使わない MEGNet に対して {glue:text}`state_vs_megnet_55:+.1f` % でした（負なら改善）。表の「差 [95 % 区間]」は MEGNet（u = 0）との MAE の差とその 95 % 区間（5.3 節のブートストラップ）で、{glue:text}`state_verdict_55`。この表の中で MAE の点推定が最も小さかったのは「{glue:text}`best_fusion_55`」ですが、二番目と比べると、{glue:text}`best_fusion_vs_second_55`。四つのうち、ほかのどれにも区間つきで負けない（順位 1 の）ものは {glue:text}`n_fusion_top_55` 個（{glue:text}`fusion_top_55`）でした。どの融合が本当に良いと言えるかは、乱数の種によるばらつきと合わせて 5.6 節で判断します。

# %% [markdown]
# ## 5.5.6 タスクの重み $\lambda$
#
# マルチタスクに戻ります。重みの決め方を四通り比べます。
#
# 1. **等重み** $\lambda = (1, 1)$
# 2. **目的変数の標準偏差の逆数** $\lambda_k \propto 1/\sigma_k$（訓練データから計算）
# 3. **元の教材の値** $\lambda = (1.0, 0.5)$
# 4. **不確実性による重み付け** {cite}`kendall2018multi`：$\mathcal{L} = \sum_k e^{-s_k}\mathcal{L}_k + s_k$ の $s_k$ をネットワークと一緒に学習し、$\lambda_k = e^{-s_k}$ とする（$s_k$ はネットワークとは別のパラメータグループで、ウォームアップなしの一定の学習率で更新します）
#
# 2 の重みが $1/\sigma_k$ なのは、本書の損失が絶対誤差（L1）だからです。L1 損失は目的変数と同じ単位を持ち、尺度 $\sigma_k$ に比例するので、$1/\sigma_k$ を掛けると二つのタスクの損失が同じ尺度になります。分散の逆数 $1/\sigma_k^2$ は二乗誤差のための重みで、L1 に使うと尺度の大きいタスクを下げすぎます。$1/\sigma_k$ で重み付けした L1 損失は、目的変数を標準化して等重みで学習するのと同じです。本書の学習ループは既定で目的変数を標準化するので、重みで尺度の違いを補う様子が見えるように、この節のマルチタスク学習だけは **標準化せず** 生の単位（eV/atom と eV）で損失を計算しています。どのエポックの重みを使うかは、どの学習でも「検証 MAE ÷ 訓練データの標準偏差」のタスク平均で決めます（生の MAE の和で決めると、誤差の大きいバンドギャップが選択を支配してしまいます）。
#
# 訓練データの二つの目的変数の尺度を確かめます。

# %%
train = df[df["split"] == "train"]
scales = train[["e_form", "band_gap"]].agg(["mean", "std"]).T
hl.tables.show(scales.rename_axis("target"))

# %% [markdown]
# ## 5.5.7 単一タスクとマルチタスクの比較
#
# 同じ MEGNet の胴体で、単一タスク 2 つとマルチタスク 4 つを学習した結果です（実行結果のレジストリから読み出します）。バンドギャップの誤差は、金属（ギャップ 0）と非金属に分けても示します。

# %% tags=["remove-output", "nbval-ignore-output"]
RUNS = ("megnet_e_form", "megnet_band_gap", "megnet_mt_equal",
        "megnet_mt_invstd", "megnet_mt_seed", "megnet_mt_uncertainty")
table = hl.tables.multitask_table(profile, names=RUNS)

# %%
hl.tables.show(table)

# %% [markdown]
# 単一タスクの基準に対する MAE の変化率（点推定）です。正の値は悪化を表しますが、負の転移と言えるかは次の区間で判断します。

# %%
transfer = hl.tables.transfer_table(table)
hl.tables.show(transfer)

# %% [markdown]
# 変化率は点推定です。同じテスト物質の上で、マルチタスクと単一タスクの MAE の差（マルチ − 単一）にブートストラップの 95 % 区間をつけると、次のようになります（「悪い」は区間がゼロを含まずに悪化した = 負の転移、「区別できない」は区間がゼロを含むもの）。

# %% tags=["remove-output", "nbval-ignore-output"]
intervals = hl.tables.transfer_intervals(profile, names=RUNS[2:])
intervals["diff (95 %)"] = [
    f"{signed(d)} [{signed(lo)}, {signed(hi)}]" for d, lo, hi in
    intervals[["diff", "diff_low", "diff_high"]].itertuples(index=False)]

# %%
hl.tables.show(intervals, ["model", "target", "diff (95 %)", "verdict"],
               labels={"diff (95 %)": "差 [95 % 区間]（目的変数の単位）"})

# %% tags=["remove-cell"]
learned = hl.experiments.run("megnet_mt_uncertainty", profile)
hl.glue("fig-weights-55", hl.plots.task_weight_trajectory(
    learned.extra["weight_trajectory"], ["生成エネルギー", "バンドギャップ"]), display=False)

# %% tags=["remove-cell"]
change = transfer["e_form_mae change %"]
best = change.idxmin()
hl.glue("best_mt_55", transfer.loc[best, "model"])
hl.glue("best_mt_eform_55", change[best])
e_form_verdicts = intervals[intervals["target"] == "e_form"]
WORDS = {"worse": "明確に悪化した（負の転移）", "tie": "区別できなかった",
         "better": "明確に改善した"}
parts = []
for verdict, words in WORDS.items():
    chosen = e_form_verdicts.loc[e_form_verdicts["verdict"] == verdict,
                                 "model"]
    if len(chosen):
        parts.append(f"{words}のは {len(chosen)} 通り"
                     f"（{claims.listing(chosen)}）")
hl.glue("mt_eform_verdicts_55", "、".join(parts))
hl.glue("best_mt_phrase_55", "最も小さかった" if change[best] >= 0
        else "最も大きく下がった")
for verdict in WORDS:
    hl.glue(f"n_transfer_{verdict}_55",
            int((intervals["verdict"] == verdict).sum()))
hl.glue("n_pairs_55", len(intervals))
claims.require(len(intervals) == 2 * len(RUNS[2:]),
               "マルチタスク × タスクの組み合わせ")

# %% tags=["remove-cell"]
hl.glue("lambda_eform_55", learned.extra["weights"]["e_form"])
hl.glue("lambda_gap_55", learned.extra["weights"]["band_gap"])
hl.glue("metal_gap_55", table.loc["megnet_band_gap", "gap_mae_metal"])
hl.glue("nonmetal_gap_55", table.loc["megnet_band_gap", "gap_mae_nonmetal"])
assert table.loc["megnet_band_gap", "gap_mae_nonmetal"] > \
    table.loc["megnet_band_gap", "gap_mae_metal"]  # "大きく違う": non-metals are harder
mt_mae = learned.metrics  # lambda ~ 1 / L: the easier task (smaller loss) weighs more
assert (learned.extra["weights"]["e_form"] > learned.extra["weights"]["band_gap"]) == \
    (mt_mae["e_form"]["mae"] < mt_mae["band_gap"]["mae"])

# %% [markdown]
# このページの実行では、生成エネルギーの MAE を 4 つの重み付けについて単一タスクと区間つきで比べると、{glue:text}`mt_eform_verdicts_55`でした。点推定の変化率が{glue:text}`best_mt_phrase_55`のは「{glue:text}`best_mt_55`」の {glue:text}`best_mt_eform_55:+.1f` % です。二つのタスクを合わせたマルチタスク × タスクの {glue:text}`n_pairs_55` 通りの組み合わせでは、明確に悪化した（負の転移）ものが {glue:text}`n_transfer_worse_55` 通り、明確に改善したものが {glue:text}`n_transfer_better_55` 通り、区別できなかったものが {glue:text}`n_transfer_tie_55` 通りでした。単一タスクのバンドギャップモデルの MAE は、金属で {glue:text}`metal_gap_55:.3f` eV、非金属で {glue:text}`nonmetal_gap_55:.3f` eV と大きく違います。ゼロが多い分布なので、全体の MAE だけを見ると非金属での誤差の大きさを見落とします。
#
# ```{glue:figure} fig-weights-55
# :name: fig-weights-55
# 不確実性による重み付けで学習されたタスクの重み $\lambda_k$ の変化。
# ```
#
# 学習の終わりの重みは、生成エネルギー {glue:text}`lambda_eform_55:.3g`、バンドギャップ {glue:text}`lambda_gap_55:.3g` でした。不確実性重み付けでは $\lambda_k \approx 1/\mathcal{L}_k$ に近づくので、損失の小さい（予測しやすい）タスクほど重みが大きくなります。元の教材の原文の出力例「マルチタスク 0.0292 vs 単一タスク ~0.0286 eV/atom（わずかに劣化）」は測定値ではありません。転移の有無は、上の表のように同じ胴体・同じデータ・同じ学習設定の単一タスクと比べて初めて判断できます。ただし、ここでの単一タスクは標準化した目的変数で、マルチタスクは生の単位で学習しているので、この差には標準化の有無も含まれます（$1/\sigma_k$ の重みがちょうど標準化に当たります）。

# %% [markdown]
# ## 5.5.8 マルチタスク学習の利点と課題
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
