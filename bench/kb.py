"""Knowledge search speed at scale: ``python bench/kb.py --db sqlite|postgres --articles N``.

Builds a fresh database (a temporary SQLite file, or drops and creates ``--pg-url``), loads the
starter library through the services, then bulk-writes N synthetic published articles (variations of
the starter set with other places, products and numbers, indexed with the same ``version_terms``),
and times one query at a time:

- ``search_p95_ms=``: the knowledge page's search (``search_ids``) over realistic agent queries,
  synonyms and pinyin initials included;
- ``suggest_p95_ms=``: the case page's article suggestions (``suggest_articles``) for complaint texts.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(Path(__file__).resolve().parent))

QUERIES = [
    "停机保号每月多少钱",
    "详单能查几个月",
    "掉话率标准",
    "携号转网条件",
    "扣钱",
    "重复收费",
    "tjbh",
    "xhzw",
    "宽带网速慢怎么办",
    "断网多久修好",
    "增值业务扣费退订",
    "充值没到账",
    "国际漫游流量",
    "彩铃功能费",
    "实名制补卡",
    "涉诈关停申诉",
    "营销骚扰电话",
    "老年人一键转人工",
    "高额账单提醒",
    "销户违约金",
    "停机保好",
    "携号转往",
    "IPTV 无法播放",
    "信号差",
    "投诉答复时限",
    "补偿审批权限",
    "流量结转",
    "套餐外流量计费",
    "退费到账时间",
    "5G 覆盖",
]
COMPLAINTS = [
    "用户反映3月账单被收取30元彩铃费用，从未订购，要求退还。",
    "家里宽带最近一周晚上网速特别慢，看视频一直卡，重启光猫也没用。",
    "手机号码停机两个月了，想知道保号怎么收费，会不会被回收。",
    "申请携号转网被拒绝，营业厅说有合约，但我不记得签过合约。",
    "小区断网两天了还没修好，要求减免月租。",
    "号码被判定涉诈关停，本人正常使用，要求尽快恢复。",
    "每天接到很多营销电话和推销短信，要求停止骚扰。",
    "想查询半年前的通话详单，客服说查不了。",
    "出国回来发现漫游费用很高，之前没收到任何提醒。",
    "室内信号很差，打电话经常掉线。",
]
PLACES = ["广州", "深圳", "佛山", "东莞", "梅州", "清远", "韶关", "湛江", "珠海", "中山", "江门", "惠州"]
PRODUCTS = [
    "畅享套餐",
    "家庭融合套餐",
    "千兆宽带",
    "5G尊享包",
    "校园卡",
    "商务卡",
    "流量日包",
    "视频会员",
    "云盘",
    "物联网卡",
]
FILLER = [
    "办理时须核验本人身份。",
    "具体以当地公示资费为准。",
    "客户可通过营业厅 App 查询。",
    "如有疑问请拨打客服热线。",
    "本规则适用于个人客户。",
    "政企客户另有约定的从其约定。",
    "活动期间赠送的权益不折现。",
    "到期后自动转为标准资费。",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/tousu_bench_kb")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--profile", action="store_true", help="print where one suggestion spends its time")
    return parser.parse_args(argv)


def build(n: int, seed: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from tousu.accounts.models import Department
    from tousu.knowledge.models import Article, ArticleVersion, SearchToken
    from tousu.knowledge.search import version_terms
    from tousu.knowledge.starter import starter_data
    from tousu.knowledge.text import BODY, TITLE, field_terms

    rng = random.Random(seed)
    bases = starter_data()["articles"]
    departments = dict(Department.objects.values_list("code", "pk"))
    now = timezone.now()
    base_terms = [
        version_terms(ArticleVersion(title=b["title"], body=b["body"], tags=b.get("tags", ""))) for b in bases
    ]

    @functools.cache
    def piece_terms(text: str, weight: float) -> tuple[tuple[str, float], ...]:
        return tuple(field_terms(text, weight).items())

    batch = 500
    for start in range(0, n, batch):
        with transaction.atomic():
            articles, versions, terms_of = [], [], []
            for i in range(start, min(n, start + batch)):
                k = rng.randrange(len(bases))
                base = bases[k]
                place, product = rng.choice(PLACES), rng.choice(PRODUCTS)
                filler = rng.sample(FILLER, 3)
                title = f"{base['title']}（{place}{product}·{i}）"
                body = f"{base['body']}\n\n{place}{product}：{' '.join(filler)} 编号 {i}。"
                articles.append(
                    Article(
                        owner_department_id=departments.get(base["department"], min(departments.values())),
                        business_type=base.get("business_type", ""),
                        title=title,
                        created_at=now,
                        external_ref=f"bench-{i}",
                    )
                )
                versions.append(
                    ArticleVersion(
                        number=1,
                        title=title,
                        body=body,
                        tags=base.get("tags", ""),
                        status="published",
                        created_at=now,
                        decided_at=now,
                    )
                )
                # The terms of the whole text, built from its pieces (each piece's terms cached):
                # the same terms indexing computes, less the few bigrams across the joints.
                terms = dict(base_terms[k])
                pieces = [
                    (place + product, TITLE),
                    (str(i), TITLE),
                    (place + product, BODY),
                    *[(f, BODY) for f in filler],
                ]
                for text, weight in pieces:
                    for term, w in piece_terms(text, weight):
                        if w > terms.get(term, 0.0):
                            terms[term] = w
                terms_of.append(terms)
            Article.objects.bulk_create(articles)
            for a, v in zip(articles, versions, strict=True):
                v.article = a
            ArticleVersion.objects.bulk_create(versions)
            tokens = []
            for a, v, terms in zip(articles, versions, terms_of, strict=True):
                a.published = v
                tokens += [SearchToken(article=a, token=t, weight=w) for t, w in terms.items()]
            Article.objects.bulk_update(articles, ["published"])
            SearchToken.objects.bulk_create(tokens, batch_size=5000)
        print(f"  {min(n, start + batch):,} articles", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="tousu-bench-kb-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tousu.settings",
        "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p),
        "TOUSU_DATA_DIR": str(workdir / "data"),
        "TOUSU_LOG_LEVEL": "WARNING",
    }
    env.pop("TOUSU_DEBUG", None)
    if args.db == "postgres":
        from _common import recreate_postgres

        recreate_postgres(args.pg_url)
        env["TOUSU_DATABASE_URL"] = args.pg_url
    else:
        env.pop("TOUSU_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "tousu.cli", "migrate", "--verbosity", "0", "--skip-checks"],
        env=env,
        check=True,
    )
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from tousu.knowledge.search import search_ids
    from tousu.knowledge.selectors import suggest_articles
    from tousu.knowledge.starter import starter_load
    from tousu.ops.seed import seed_organisation

    seed_organisation()
    starter_load()
    started = time.perf_counter()
    build(args.articles, args.seed)
    print(f"built {args.articles:,} articles in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    for q in QUERIES[:5]:
        search_ids(q)  # warm-up (jieba's dictionary, pypinyin)
    search, suggest = [], []
    for i in range(args.queries):
        t = time.perf_counter()
        search_ids(QUERIES[i % len(QUERIES)])
        search.append((time.perf_counter() - t) * 1000)
    for i in range(max(20, args.queries // 2)):
        t = time.perf_counter()
        suggest_articles(text=COMPLAINTS[i % len(COMPLAINTS)], business_type="mobile")
        suggest.append((time.perf_counter() - t) * 1000)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for text in COMPLAINTS:
            suggest_articles(text=text, business_type="mobile")
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(18)
    print(f"db={connection.vendor} articles={args.articles}")
    print(f"search_p95_ms={p95(search):.1f}")
    print(f"suggest_p95_ms={p95(suggest):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
