"""What the demo center sells and hears: plans, request topics, work-order titles and the
notes leads write about equipment and systems (its canned replies are the shipped ones)."""

from __future__ import annotations

from dataclasses import dataclass

from desk.rules.vocab import RequestType, Tier


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    monthly_fee_cents: int


PLANS: tuple[Plan, ...] = (
    Plan("P4G18", "4G飞享套餐18元", 1_800),
    Plan("P4G38", "4G飞享套餐38元", 3_800),
    Plan("PCAMPUS29", "校园青春卡29元", 2_900),
    Plan("PSENIOR8", "老年关爱卡8元", 800),
    Plan("P5G58", "5G畅享套餐58元", 5_800),
    Plan("P5G98", "5G畅享套餐98元", 9_800),
    Plan("P5G128", "5G智享套餐128元", 12_800),
    Plan("PFAM169", "5G全家享套餐169元(含千兆宽带)", 16_900),
    Plan("P5G198", "5G智享套餐198元", 19_800),
    Plan("P5G298", "5G尊享套餐298元", 29_800),
    Plan("PBIZ388", "商务尊享套餐388元", 38_800),
    Plan("PBB99", "融合宽带套餐99元(300M)", 9_900),
)

# Which plans each tier tends to hold (plan code, weight).
PLANS_BY_TIER: dict[Tier, tuple[tuple[str, float], ...]] = {
    Tier.STANDARD: (
        ("P4G18", 22),
        ("P4G38", 18),
        ("PCAMPUS29", 8),
        ("PSENIOR8", 10),
        ("P5G58", 20),
        ("P5G98", 10),
        ("PBB99", 12),
    ),
    Tier.SILVER: (("P5G58", 20), ("P5G98", 35), ("P5G128", 25), ("PBB99", 10), ("PFAM169", 10)),
    Tier.GOLD: (("P5G128", 35), ("PFAM169", 35), ("P5G198", 30)),
    Tier.PLATINUM: (("P5G198", 50), ("P5G298", 35), ("PFAM169", 15)),
    Tier.DIAMOND: (("P5G298", 60), ("PBIZ388", 40)),
}

# Topics per request type: (topic, weight, a one-line summary an agent would write).
TOPICS: dict[RequestType, tuple[tuple[str, float, str], ...]] = {
    RequestType.CONSULTATION: (
        ("套餐资费", 30, "咨询套餐资费及包含内容,已解答"),
        ("流量包", 18, "咨询流量加油包办理方式,已告知"),
        ("国际漫游", 8, "咨询出境漫游资费及开通方式,已解答"),
        ("携号转网", 6, "咨询携号转网条件,已告知办理流程"),
        ("宽带资费", 10, "咨询宽带新装资费及安装时限,已解答"),
        ("积分兑换", 8, "咨询积分余额及兑换方式,已告知"),
        ("营业厅地址", 8, "查询附近营业厅地址及营业时间,已告知"),
        ("5G网络覆盖", 6, "咨询所在小区5G覆盖情况,已解答"),
        ("发票开具", 6, "咨询电子发票开具方式,已指导"),
    ),
    RequestType.BILL_INQUIRY: (
        ("本月话费", 35, "查询本月话费,已告知"),
        ("余额查询", 25, "查询账户余额,已告知"),
        ("详单查询", 18, "核实身份后查询通话详单,已告知"),
        ("历史账单", 10, "查询历史账单,已告知"),
        ("扣费疑问", 12, "对增值业务扣费有疑问,已解释扣费明细"),
    ),
    RequestType.FAULT_REPORT: (
        ("宽带无法上网", 30, "宽带无法上网,远程排查无果,已派单上门"),
        ("手机无信号", 22, "所在区域手机信号弱,已记录故障"),
        ("通话断续", 14, "通话中断续有杂音,已记录故障"),
        ("网速慢", 18, "宽带网速明显低于签约速率,已派单"),
        ("IPTV故障", 8, "IPTV 无法播放,已派单"),
        ("短信收不到", 8, "无法接收验证码短信,已记录"),
    ),
    RequestType.COMPLAINT: (
        ("乱扣费", 28, "投诉未订购增值业务被扣费,要求退费"),
        ("装维超时", 18, "投诉宽带装维人员超时未上门"),
        ("服务态度", 14, "投诉营业厅工作人员服务态度差"),
        ("网络质量", 20, "投诉家中信号长期不稳定"),
        ("营销骚扰", 10, "投诉频繁接到营销电话"),
        ("办理不一致", 10, "投诉实际办理业务与营业员承诺不一致"),
    ),
    RequestType.SERVICE_REQUEST: (
        ("套餐变更", 30, "核实身份后申请变更套餐,次月生效"),
        ("流量包订购", 20, "核实身份后订购流量包,即时生效"),
        ("停复机", 14, "核实身份后办理停机保号"),
        ("密码重置", 14, "核实身份后重置服务密码"),
        ("增值业务退订", 16, "核实身份后退订增值业务"),
        ("资料变更", 6, "核实身份后变更联系地址"),
    ),
    RequestType.SUGGESTION: (
        ("服务建议", 50, "建议延长营业厅营业时间"),
        ("产品建议", 30, "建议推出老年人专属流量包"),
        ("客服中心建议", 20, "建议缩短语音导航层级"),
    ),
}

WORK_ORDER_TITLES: dict[RequestType, str] = {
    RequestType.CONSULTATION: "咨询需后台答复:{topic}",
    RequestType.BILL_INQUIRY: "话费核查:{topic}",
    RequestType.FAULT_REPORT: "故障申告:{topic}",
    RequestType.COMPLAINT: "投诉:{topic}",
    RequestType.SERVICE_REQUEST: "业务受理:{topic}",
    RequestType.SUGGESTION: "建议:{topic}",
}

REPLIES: dict[RequestType, tuple[str, ...]] = {
    RequestType.CONSULTATION: ("已由业务部门核实并答复客户。",),
    RequestType.BILL_INQUIRY: (
        "经核查计费无误,已向客户解释扣费明细。",
        "核实为系统重复计费,已退还差额至账户。",
    ),
    RequestType.FAULT_REPORT: (
        "装维人员已上门处理,更换光猫后恢复正常。",
        "基站传输故障已修复,信号恢复正常。",
        "线路老化已更换,测速达到签约速率。",
    ),
    RequestType.COMPLAINT: (
        "经核实属实,已退还误扣费用并致歉。",
        "已约谈相关人员,向客户当面致歉并整改。",
        "已优化周边基站参数,客户确认信号改善。",
        "已将号码加入营销免打扰名单。",
    ),
    RequestType.SERVICE_REQUEST: ("业务已办理完成,短信通知客户。",),
    RequestType.SUGGESTION: ("建议已转相关部门研究,感谢客户反馈。",),
}

REJECT_REASONS: tuple[str, ...] = (
    "回复内容与客户诉求不符,请重新核实。",
    "未说明处理结果及时间,请补充。",
    "客户反映问题未解决,请再次上门。",
)

SHIFT_NOTES: tuple[tuple[str, str], ...] = (
    ("equipment", "12号座席耳麦单侧无声,已更换备用耳麦并报修。"),
    ("equipment", "班长席电脑蓝屏一次,重启后恢复,已通知IT检查。"),
    ("system", "CRM 系统 14:20-14:35 查询响应缓慢,已上报运维,现已恢复。"),
    ("system", "IVR 语音导航第三节点播报内容有误,已提交修改申请。"),
    ("system", "工单系统派单接口超时约10分钟,期间改为手工登记,已补录。"),
    ("equipment", "7号座席电话软终端频繁掉线,已报修。"),
    ("other", "今日宽带故障来电量明显增加,集中在西湖区,已通知网络维护部关注。"),
    ("system", "短信平台下发延迟,验证码短信最长延迟5分钟,已向客户解释。"),
    ("other", "通信管理局转来投诉一件,已按重大投诉流程上报主任。"),
)
