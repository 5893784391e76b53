"""Build ``corpus.csv``: the labelled complaints the shipped model is trained and scored on.

Run ``python -m tousu.triage.data.build_corpus`` (deterministic: the same file every time).
Rows are composed from the hand-written pools in ``situations.py`` (problems per leaf category),
the registers below (hotline notes in the third person, the customer's own words, social posts,
e-mails, regulator referral summaries, short app messages), severity and escalation signals,
secondary remarks that the tie-break rule must ignore, and noise (typos, dialect, English brand
names); plus the fully hand-written rows of ``handwritten.py``. Labels follow
/shared/CLASSIFICATION.md. ``split`` is ``test`` for a deterministic 20% (by situation, so the
held-out rows describe problems the model never saw in training), else ``train``.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from pathlib import Path

from tousu.triage import rules
from tousu.triage.data.handwritten import HANDWRITTEN
from tousu.triage.data.situations import PHONES, PKGS, PLACES, SITUATIONS, VAS

OUT = Path(__file__).with_name("corpus.csv")
COLUMNS = ["id", "text", "category", "subcategory", "level", "escalation_risk", "channel", "split"]
LEVELS = ["dissatisfied", "very_dissatisfied", "major", "crisis"]
ROWS_PER_SITUATION = 10

ASKS = {
    "billing": [
        "要求退还多扣的费用",
        "要求给个合理解释并退费",
        "希望把钱退回来",
        "要求核实账单并退款",
        "要求全额退还",
        "请尽快把多收的钱退给我",
        "要求说明扣费原因",
        "要求返还话费",
    ],
    "service": [
        "要求给个说法",
        "希望有人负责处理",
        "要求对相关人员严肃处理",
        "要求道歉",
        "要求尽快安排人员处理",
        "希望改进服务",
        "要求有人回电跟进",
    ],
    "network": [
        "要求尽快修复",
        "希望尽快恢复网络",
        "要求派人检修",
        "要求尽快解决信号问题",
        "请尽快处理",
        "要求排查原因",
        "希望能改善网络",
    ],
    "business": [
        "要求恢复原来的套餐",
        "要求尽快办理",
        "要求取消并恢复原状",
        "要求给我办理",
        "要求说明原因并纠正",
        "要求马上处理",
        "要求停止这种行为",
    ],
    "other": ["", "谢谢", "麻烦回复一下", "谢谢你们", "请帮忙处理"],
}
MILD = [
    "",
    "",
    "",
    "希望尽快处理。",
    "麻烦看一下。",
    "有点不满意。",
    "请帮忙处理一下。",
    "谢谢。",
    "望回复。",
]
EMOTION = [
    "太气人了！",
    "简直离谱！！",
    "真的忍无可忍了！",
    "你们还讲不讲道理？",
    "气死我了！",
    "什么垃圾服务！",
    "坑人啊！",
    "非常非常不满意！",
    "我真的要崩溃了。",
    "太过分了！！！",
    "这也太欺负人了！",
    "无语到极点。",
]
EMOTION3 = ["客户情绪非常激动", "用户情绪激动，多次表示强烈不满", "来电人语气激动，非常不满", "客户情绪较大"]
LONG = [
    "这个问题已经拖了一个多月了",
    "半年了一直没解决",
    "从{month}月到现在都没处理好",
    "拖了快两个月",
    "三个星期了还是老样子",
    "好几个月了问题依旧",
]
LONG3 = ["客户称问题已持续一个多月未解决", "用户表示该问题已拖延两个多月", "来电人称问题持续数月未处理"]
REPEAT = [
    "这是我第三次投诉了",
    "已经报修2次了",
    "上次投诉说会处理，结果还是一样",
    "之前已经打过两次电话反映过",
    "同样的问题我上周已经投诉过",
    "已经是第二次来电了",
    "工单被关了我又重新提了一次",
    "第4次反映这个问题了",
    "又一次投诉同一个问题",
    "再次投诉，上次的工单号我还留着",
]
REPEAT3 = [
    "客户称已是第三次来电",
    "用户表示已报修两次未果",
    "客户此前已就同一问题投诉过",
    "该用户为二次投诉",
    "客户称上次投诉后问题依旧",
    "用户反映之前的工单被关闭但问题未解决，再次来电",
]
BOUNCE = ["客服和营业厅来回推", "转了好几个部门都没人管", "打客服让我找营业厅，营业厅又让我打客服"]
BOUNCE3 = ["客户称被多个部门来回推诿", "用户表示在客服与营业厅之间被反复转接"]
THREAT = [
    "再不处理我就去工信部投诉",
    "我要打12315",
    "我已经向通信管理局反映了",
    "准备找律师起诉你们",
    "我会发到微博上让大家评评理",
    "找电视台曝光你们",
    "我会打12345市民热线",
    "要去消委会投诉",
    "再不解决就报警",
    "要追究你们的法律责任",
    "我要发小红书曝光",
    "已经在抖音上发视频了",
    "不解决就上12300申诉",
    "我去法院告你们",
    "找记者来报道",
]
THREAT3 = [
    "客户表示如不处理将向工信部申诉",
    "用户扬言要找媒体曝光",
    "客户称将向12315投诉",
    "客户称已咨询律师准备起诉",
    "用户表示要向通信管理局反映",
    "客户称会拨打12345市长热线",
    "来电人称将在微博、抖音上曝光",
]
VULNERABLE = [
    "家里八十岁的老人独居，全靠这个电话",
    "我是残疾人，行动不便",
    "我母亲是聋哑人，只能靠短信",
    "家里有重病病人需要随时联系医院",
    "我是孕妇，经常要联系医生",
    "孩子才九岁，一个人在家靠电话手表联系",
    "老人七十多岁了，不会用智能手机",
]
MANY = [
    "整栋楼的住户都是这样",
    "我们公司几十个人都受影响",
    "全校师生都用不了",
    "整个小区几百户都一样",
    "我们整条街的商户都受影响",
    "厂里两百多个工人都没信号",
]
CRISIS = {
    "mass": [
        "整个镇的手机和宽带全部中断了",
        "全区大面积断网，上万户受影响",
        "全县的信号都没了，已经半天",
        "整个片区停网停话，到处都打不通",
    ],
    "emergency": [
        "老人摔倒了打120都打不出去",
        "电梯困人，手机没信号没法求救",
        "医院的网络和电话全部中断了",
        "发生火灾打119打不出去",
    ],
    "viral": ["这事已经上了热搜，好多人在转发", "我的视频已经有几十万播放了，评论里都在骂你们"],
    "breach": ["上千名用户的信息在网上被公开售卖", "整个小区业主的手机号和身份证都泄露了"],
}
CRISIS_LEAVES = {
    "network-outage": ["mass", "emergency", "viral"],
    "network-signal": ["mass", "emergency"],
    "network-dropped-calls": ["emergency"],
    "network-hazard": ["emergency", "viral"],
    "business-personal-info": ["breach", "viral"],
    "service-attitude": ["viral"],
    "billing-wrong-charge": ["viral"],
}
# Remarks about something else, which the tie-break rule says do not change the category.
SIDE = {
    "billing": ["客服态度也很差", "营业员还爱理不理", "网速也一般", "客服解释得也不清楚"],
    "service": ["虽然网络问题最后好了", "这个费用的事倒是小事", "网络本来就不好"],
    "network": ["客服倒是很客气", "话费也不便宜", "打客服也说不清"],
    "business": ["月费还贵了20块", "营业员态度倒还行", "网络也经常不好"],
    "other": [],
}
PLATFORM_NOISE = ["刷抖音一直转圈", "看微博都加载不出来", "小红书图片刷不出来", "快手视频卡成PPT"]
TYPOS = {
    "宽带": "宽代",
    "投诉": "投述",
    "已经": "以经",
    "账单": "帐单",
    "营业厅": "营业听",
    "怎么": "怎摸",
    "网速": "往速",
    "信号": "信号",
    "退费": "推费",
    "套餐": "套参",
    "处理": "处里",
    "服务": "服物",
}
DIALECT = [
    ("没有", "冇"),
    ("什么", "啥子"),
    ("怎么", "咋"),
    ("很", "贼"),
    ("我", "俺"),
    ("什么", "咩"),
    ("不知道", "唔知"),
    ("很", "巨"),
    ("怎么", "点解"),
    ("的", "滴"),
]
NAMES3 = ["客户", "用户", "该用户", "来电人", "机主"]
HOTLINE_OPEN = [
    "客户来电反映：",
    "用户致电称",
    "客户来电表示",
    "来电人反映",
    "机主来电投诉：",
    "用户来电：",
    "客户到营业厅反映",
    "客户在线咨询后投诉：",
]
SOCIAL_OPEN = ["@中国移动 ", "@中国电信 ", "@中国联通 ", "#吐槽# ", "", "有没有人和我一样？", "避雷！"]
SOCIAL_CLOSE = ["", "#运营商#", "大家评评理", "气死", "😡😡", "转发扩散", "服了"]
EMAIL_OPEN = ["您好：\n", "尊敬的客服：\n", "To客服部：", "您好，我是贵公司的老用户，手机号13{d}****{e}。"]
EMAIL_CLOSE = ["\n此致 敬礼", "\n盼复。", "\n谢谢！", "\nBest regards"]
REG_OPEN = [
    "工信部转办（申诉编号GX{n}）：用户反映",
    "省通信管理局转来申诉：用户称",
    "12300申诉转办：申诉人反映",
    "12345政务热线转办：市民反映",
    "市场监管12315转来：消费者反映",
    "工信部电信用户申诉受理中心转办，用户反映",
]
REG_CLOSE = ["请企业在规定时限内处理并回复。", "请核实处理并反馈结果。", "请于5个工作日内回复申诉人。", ""]


def _third(text: str, rng: random.Random) -> str:
    who = rng.choice(NAMES3)
    for a, b in [
        ("我们", "其"),
        ("我家", "其家中"),
        ("我的", "其"),
        ("我妈", "其母亲"),
        ("我爸", "其父亲"),
        ("我", who),
    ]:
        text = text.replace(a, b)
    return text


def _fill(text: str, rng: random.Random, big: bool) -> str:
    amount = (
        rng.choice([300, 350, 468, 520, 600, 880, 1200, 1580, 2300])
        if big
        else rng.choice([3, 5, 8, 10, 12, 15, 18.5, 20, 25, 30, 38, 45, 50, 68, 80, 99, 120, 150])
    )
    return (
        text.replace("{amount}", str(amount))
        .replace("{big}", str(rng.choice([380, 500, 760, 980, 1500, 2600, 4800, 12000])))
        .replace("{place}", rng.choice(PLACES))
        .replace("{month}", str(rng.randint(1, 12)))
        .replace("{vas}", rng.choice(VAS))
        .replace("{pkg}", rng.choice(PKGS))
        .replace("{days}", str(rng.choice([2, 3, 5, 7, 10, 15, 20, 30])))
        .replace("{phone}", rng.choice(PHONES))
        .replace("{n}", str(rng.randint(1000, 99999)))
    )


def _noise(text: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        for a, b in rng.sample(list(TYPOS.items()), 3):
            text = text.replace(a, b, 1)
    elif r < 0.27:
        a, b = rng.choice(DIALECT)
        text = text.replace(a, b)
    if rng.random() < 0.1:
        text = text.replace("，", ",").replace("。", ".")
    if rng.random() < 0.1:
        text = text.replace("，", " ")
    if rng.random() < 0.08:
        text = f"{rng.choice(PHONES)}用户，" + text
    return text


def _compose(leaf: str, situation: str, rng: random.Random) -> tuple[str, str, int, str]:
    top = leaf.split("-")[0]
    big = top == "billing" and "{amount}" in situation and rng.random() < 0.35
    body = _fill(situation, rng, big)
    level = 2 if big or "{big}" in situation else 0
    esc = 0
    # signals the situation itself carries (many users, elderly, bounced around…) count too
    inherent = set(rules.signals(body))
    if inherent & {"many_users", "vulnerable", "big_amount"}:
        level = 2
    if inherent & {"bounce", "repeat"}:
        level, esc = max(level, 1), 1
    if inherent & {"mass_outage", "emergency", "breach"}:
        level = 3
    extras: list[str] = []  # first person
    extras3: list[str] = []  # third person
    r = rng.random()
    crisis_kinds = CRISIS_LEAVES.get(leaf, [])
    if top == "other":
        r = 1.0  # praise, enquiries, suggestions and scam reports stay at the floor
    if r < 0.14:
        s = rng.choice(EMOTION)
        extras.append(s)
        extras3.append(rng.choice(EMOTION3))
        level = max(level, 1)
    elif r < 0.22:
        s = _fill(rng.choice(LONG), rng, False)
        extras.append(s)
        extras3.append(rng.choice(LONG3))
        level = max(level, 1)
    elif r < 0.34:
        extras.append(rng.choice(REPEAT))
        extras3.append(rng.choice(REPEAT3))
        level, esc = max(level, 1), 1
    elif r < 0.38:
        extras.append(rng.choice(BOUNCE))
        extras3.append(rng.choice(BOUNCE3))
        level, esc = max(level, 1), 1
    elif r < 0.52:
        extras.append(rng.choice(THREAT))
        extras3.append(rng.choice(THREAT3))
        level, esc = max(level, 2), 1
    elif r < 0.57:
        s = rng.choice(VULNERABLE)
        extras.append(s)
        extras3.append(_third(s, rng))
        level = max(level, 2)
    elif r < 0.62 and top == "network":
        s = rng.choice(MANY)
        extras.append(s)
        extras3.append(_third(s, rng))
        level = max(level, 2)
    elif r < 0.70 and crisis_kinds:
        kind = rng.choice(crisis_kinds)
        s = rng.choice(CRISIS[kind])
        extras.append(s)
        extras3.append(_third(s, rng))
        level = 3
        if kind == "viral":
            esc = 1
    if level < 3 and rng.random() < 0.1 and top != "other":
        # a second signal on top of the first
        s = rng.choice(THREAT)
        extras.append(s)
        extras3.append(rng.choice(THREAT3))
        level, esc = max(level, 2), 1
    if top == "network" and leaf == "network-speed" and rng.random() < 0.2:
        extras.insert(0, rng.choice(PLATFORM_NOISE))
        extras3.insert(0, rng.choice(PLATFORM_NOISE))
    if SIDE[top] and rng.random() < 0.15:
        extras.insert(0, rng.choice(SIDE[top]))
        extras3.insert(0, rng.choice(SIDE[top]))
    ask = rng.choice(ASKS[top])

    reg = rng.random()
    if reg < 0.28:  # hotline note, third person
        channel = "hotline"
        parts = [_third(body, rng), *extras3]
        if ask:
            parts.append(rng.choice(NAMES3) + ask)
        text = rng.choice(HOTLINE_OPEN) + "，".join(parts) + "。"
        if rng.random() < 0.3:
            text += rng.choice(["已安抚，", "已致歉，", "已核实，", ""]) + "转相关部门处理。"
    elif reg < 0.55:  # the customer's own words
        channel = rng.choice(["app", "web", "wechat", "online_chat", "store"])
        parts = [body, *extras]
        if ask:
            parts.append(ask)
        text = "，".join(parts) + "。" + (rng.choice(MILD) if level == 0 else "")
    elif reg < 0.67:  # social media post
        channel = "social_media"
        text = rng.choice(SOCIAL_OPEN) + "，".join([body, *extras]) + "！" + rng.choice(SOCIAL_CLOSE)
    elif reg < 0.77:  # e-mail
        channel = "email"
        opener = (
            rng.choice(EMAIL_OPEN)
            .replace("{d}", str(rng.randint(0, 9)))
            .replace("{e}", str(rng.randint(1000, 9999)))
        )
        parts = [body, *extras]
        text = opener + "，".join(parts) + "。" + (ask + "。" if ask else "") + rng.choice(EMAIL_CLOSE)
    elif reg < 0.83 and top != "other":  # regulator referral summary
        channel = "regulator"
        opener = rng.choice(REG_OPEN).replace("{n}", str(rng.randint(20260000, 20269999)))
        parts = [_third(body, rng), *[e for e in extras3 if e not in THREAT3]]
        text = opener + "，".join(parts) + "，" + (ask or "要求处理") + "。" + rng.choice(REG_CLOSE)
        level, esc = max(level, 2), 1
    else:  # short app/portal message: the first clause only, maybe one signal
        channel = rng.choice(["app", "web", "wechat"])
        first = re.split("[，。！]", body)[0]
        text = first + ("，" + extras[-1] if extras and rng.random() < 0.7 else "")
        if extras and text == first:
            # the signal was dropped: recompute what is left
            level = (
                2
                if big or "{big}" in situation or inherent & {"many_users", "vulnerable", "big_amount"}
                else 0
            )
            esc = 0
            if inherent & {"bounce", "repeat"}:
                level, esc = 1, 1
            if inherent & {"mass_outage", "emergency", "breach"}:
                level = 3
    return _noise(text, rng), LEVELS[level], esc, channel


def _code(leaf: str) -> str:
    """The category-tree code: 其他 has no leaves in the tree, so its kinds are all ``other``."""
    return "other" if leaf.startswith("other") else leaf


def _in_test(key: str) -> bool:
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % 5 == 0


def build() -> list[dict[str, str]]:
    rng = random.Random(20261204)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for leaf, situations in SITUATIONS.items():
        for situation in situations:
            split = "test" if _in_test(situation) else "train"
            made = 0
            tries = 0
            while made < ROWS_PER_SITUATION and tries < 50:
                tries += 1
                text, level, esc, channel = _compose(leaf, situation, rng)
                if text in seen:
                    continue
                seen.add(text)
                made += 1
                rows.append(
                    {
                        "text": text,
                        "category": leaf.split("-")[0],
                        "subcategory": _code(leaf),
                        "level": level,
                        "escalation_risk": str(esc),
                        "channel": channel,
                        "split": split,
                    }
                )
    for text, leaf, level, esc, channel in HANDWRITTEN:
        rows.append(
            {
                "text": text,
                "category": leaf.split("-")[0],
                "subcategory": _code(leaf),
                "level": level,
                "escalation_risk": str(esc),
                "channel": channel,
                "split": "test" if _in_test(text) else "train",
            }
        )
    rng.shuffle(rows)
    for i, row in enumerate(rows, start=1):
        row["id"] = str(i)
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{OUT}: {len(rows)} rows, {sum(r['split'] == 'test' for r in rows)} held out")


if __name__ == "__main__":
    main()
