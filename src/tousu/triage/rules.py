"""Explicit signals that rules decide better than a model: escalation words, repeats, money,
vulnerable users, many users, safety and crisis words (see CLASSIFICATION.md).

Each signal has a name, a regular expression and a short Chinese explanation; ``signals(text)``
returns the names that fire, and ``vector(text)`` the same as 0/1 features for the models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    name: str
    pattern: re.Pattern[str]
    explain: str


def _p(expr: str) -> re.Pattern[str]:
    return re.compile(expr, re.IGNORECASE)


SIGNALS: list[Signal] = [
    Signal(
        "regulator",
        _p(
            r"工信部|工业和信息化部|通信管理局|通管局|12300|12315|12345|消委会|消协|市场监管|市长热线|政务热线|申诉受理中心"
        ),
        "提到监管或政府热线 → 越级风险",
    ),
    Signal(
        "media",
        _p(
            r"媒体|记者|电视台|报社|曝光|上热搜|热搜|发微博|微博上|发到网上|网上发|发帖|发小红书|小红书上|发抖音|抖音上发|"
            r"视频.{0,6}播放|转发扩散|评评理"
        ),
        "提到媒体或网络曝光 → 越级风险",
    ),
    Signal(
        "legal",
        _p(r"律师|起诉|法院|诉讼|告你们|法律责任|报警|公安局|派出所"),
        "提到律师、诉讼或报警 → 越级风险",
    ),
    Signal(
        "repeat",
        _p(
            r"第[二三四五六七八九十2-9两]次|[二三四五两2-9]次投诉|报修[了过]?[二三四五两2-9]次|再次投诉|又一次|又投诉|又来投诉|"
            r"重复投诉|上次投诉|之前(已经)?(投诉|反映|打过)|已经?(投诉|反映|报修)过|二次投诉|多次(投诉|反映|报修|来电|打电话)|"
            r"工单.{0,6}(关闭|关了).{0,10}(又|再|重新)|重新(提|投诉)|同样的问题.{0,6}(投诉|反映)过"
        ),
        "再次投诉/多次报修 → 重复投诉",
    ),
    Signal(
        "bounce",
        _p(
            r"推诿|踢皮球|来回推|互相推|推来推去|转了.{0,4}(几|多|好几|[二三四五六2-9])个部门|来回转|反复转接"
        ),
        "被部门间推诿 → 越级风险",
    ),
    Signal(
        "big_amount",
        _p(
            r"(?<![\d.])(?:[3-9]\d{2}|[1-9]\d{3,})(?:\.\d+)?\s*多?\s*(?:元|块|rmb)|[三四五六七八九]百(?:多)?(?:元|块)|[一二两三四五六七八九十几]千|上千|几百块|几百元|[一二两三四五六七八九十几]万"
        ),
        "金额较大（数百元以上）→ 重大投诉",
    ),
    Signal(
        "vulnerable",
        _p(
            r"老人(?!机)|老年(?!卡)|[六七八九]十(多)?岁|残疾|残障|聋哑|听障|视障|盲人|轮椅|孕妇|重病|病人|癌症|透析|未成年|小孩|孩子才|独居"
        ),
        "涉及老人、残障、未成年或病患 → 重大投诉",
    ),
    Signal(
        "many_users",
        _p(
            r"整栋|整个小区|全小区|全楼|整条街|全校|全公司|几十个人|几百户|上百户|[几数]十家|整个村|全村|村民|业主们|[二三四五六七八九百千]多户|两百多|三十多家|写字楼"
        ),
        "多用户受影响 → 重大投诉",
    ),
    Signal(
        "mass_outage",
        _p(r"大面积|整个(镇|片区|县|区|市)|全(区|县|镇|市)|片区.{0,8}(中断|断|没)|上万户|停网停话"),
        "大面积中断 → 危机事件",
    ),
    Signal(
        "emergency",
        _p(
            r"(110|119|120|急救).{0,6}(打不|无法|不通|没法)|打不出(110|119|120)|困人|被困|求救|医院.{0,10}(中断|断|不通)|出人命|冒烟|起火|火灾|着火"
        ),
        "紧急呼叫或安全风险 → 危机事件",
    ),
    Signal(
        "breach",
        _p(r"(上千|几千|数千|上万|大量|整个小区).{0,10}(信息|号码|身份证).{0,6}(泄露|售卖|卖)"),
        "大规模信息泄露 → 危机事件",
    ),
    Signal(
        "viral",
        _p(r"热搜|几十万播放|[几数十百]+万.{0,4}(播放|转发|阅读)|都在转|刷屏"),
        "已在网上扩散 → 危机事件",
    ),
    Signal(
        "emotion",
        _p(
            r"[!！]{2,}|[?？]{2,}|气死|离谱|忍无可忍|垃圾|坑人|崩溃|过分|欺负人|无语|太差劲|受够|岂有此理|服了"
        ),
        "情绪强烈 → 非常不满意",
    ),
    Signal(
        "long_unresolved",
        _p(
            r"[一两三四五六七八九十几半好\d]+个?(多)?(月|星期|周).{0,6}(没|未|还|依旧|都)|拖了|一直没(解决|处理)|至今|仍未|迟迟"
        ),
        "长期未解决 → 非常不满意",
    ),
]
ESCALATION_SIGNALS = {"regulator", "media", "legal", "repeat", "bounce", "viral"}
NAMES = [s.name for s in SIGNALS]


def signals(text: str) -> list[str]:
    return [s.name for s in SIGNALS if s.pattern.search(text)]


def vector(text: str) -> list[float]:
    return [1.0 if s.pattern.search(text) else 0.0 for s in SIGNALS]


def explain(name: str) -> str:
    for s in SIGNALS:
        if s.name == name:
            return s.explain
    return name
