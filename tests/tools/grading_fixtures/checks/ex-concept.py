"""Written exercise ex-concept (what the nodes of the line graph are), 2 points."""
# %% written points=2
# 線グラフの頂点＝元のグラフの結合（辺）: 1 点。線グラフの辺が結合角を運ぶ: 1 点。
