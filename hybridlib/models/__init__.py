"""Models of the book: composition baseline, CGCNN, early/late fusion (and ALIGNN, MEGNet).

Introduced in: chapter 5.1.
"""
# Composition baseline, CGCNN and fusion (helper 3)
from .baselines import out_of_fold_predict, random_forest
from .cgcnn import CGCNN
from .fusion import AttentionFusion, EarlyFusion, ResidualFusion, composition_stats
from .late_fusion import Stacking, blend, blend_alpha

__all__ = [
    "random_forest", "out_of_fold_predict", "CGCNN", "EarlyFusion", "ResidualFusion",
    "AttentionFusion",
    "composition_stats", "blend", "blend_alpha", "Stacking",
]

# ALIGNN and MEGNet (helper 4): add imports and extend __all__ below this line.
# --- helper 4: ALIGNN, MEGNet and multitask weighting -----------------------------------
from .alignn import ALIGNN, ALIGNNLayer, ALIGNNSimple, EdgeGatedGraphConv
from .megnet import MEGNet, MEGNetBlock
from .multitask import FixedWeights, UncertaintyWeighting

__all__ += ["ALIGNN", "ALIGNNLayer", "ALIGNNSimple", "EdgeGatedGraphConv", "MEGNet",
            "MEGNetBlock", "FixedWeights", "UncertaintyWeighting"]
