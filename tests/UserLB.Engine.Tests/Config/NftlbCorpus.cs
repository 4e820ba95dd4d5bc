namespace UserLB.Engine.Tests.Config;

/// <summary>
/// A sample of nftlb's compatibility corpus (github.com/zevenet/nftlb, tests/config_exec/NAME/input.json),
/// copied verbatim (also kept as nftlb-corpus/NAME.json next to this file) and embedded here because the
/// test project does not copy data files to its output.
/// </summary>
internal static class NftlbCorpus
{
    public static readonly IReadOnlyDictionary<string, string> Files = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["002_snat_ipv4_tcp_weight_serial"] = """
            { "farms" : [ {	"name" : "lb01", "family" : "ipv4", "virtual-addr" : "192.168.0.100", "virtual-ports" : "80", "mode" : "snat", "protocol" : "tcp", "scheduler" : "weight", "state" : "up", "backends" : [ { "name" : "bck0", "ip-addr" : "192.168.0.10", "weight" : "5", "priority" : "1", "state" : "up" }, { "name" : "bck1", "ip-addr" : "192.168.0.12", "weight" : "5", "priority" : "1", "state" : "up" } ] } ] }
            """ + "\n",
        ["005_dsr_ipv6_udp_rr"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv6",
            			"virtual-addr" : "2001:db8:0:1:1:1:1:1",
            			"ether-addr" : "01:01:01:01:01:01",
            			"virtual-ports" : "80",
            			"mode" : "dsr",
            			"protocol" : "udp",
            			"scheduler" : "rr",
            			"priority" : "1",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "2001:db8:0:1:1:1:1:2",
            					"ether-addr" : "02:02:02:02:02:02",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "2001:db8:0:1:1:1:1:3",
            					"ether-addr" : "03:03:03:03:03:03",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				}
            			],
            			"iface" : "lo",
            			"oface" : "lo"
            		}
            	]
            }
            """ + "\n",
        ["016_stlsdnat_ipv4_tcp_weighted_rr"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.56.101",
            			"virtual-ports" : "80",
            			"mode" : "stlsdnat",
            			"protocol" : "tcp",
            			"scheduler" : "weight",
            			"iface" : "lo",
            			"oface" : "lo",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"ether-addr" : "02:02:02:02:02:02",
            					"weight" : "2",
            					"priority" : "1",
            					"state" : "up",
            					"oface" : "lo"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"ether-addr" : "03:03:03:03:03:03",
            					"weight" : "1",
            					"priority" : "1",
            					"state" : "up",
            					"oface" : "lo"
            				},
            				{
            					"name" : "bck2",
            					"ip-addr" : "192.168.0.12",
            					"ether-addr" : "04:04:04:04:04:04",
            					"weight" : "1",
            					"priority" : "1",
            					"state" : "up",
            					"oface" : "lo"
            				},
            				{
            					"name" : "bck3",
            					"ip-addr" : "192.168.0.13",
            					"ether-addr" : "05:05:05:05:05:05",
            					"weight" : "2",
            					"priority" : "1",
            					"state" : "up",
            					"oface" : "lo"
            				},
            				{
            					"name" : "bck4",
            					"ip-addr" : "192.168.0.14",
            					"ether-addr" : "06:06:06:06:06:06",
            					"weight" : "1",
            					"priority" : "1",
            					"state" : "up",
            					"oface" : "lo"
            				}
            			],
            			"ether-addr" : "01:01:01:01:01:01"
            		}
            	]
            }
            """ + "\n",
        ["020_snat_ipv4_tcp_rr_log"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.1.100",
            			"virtual-ports" : "80",
            			"mode" : "snat",
            			"protocol" : "tcp",
            			"scheduler" : "rr",
            			"log" : "input forward output",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up",
            					"mark" : "0x200"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up",
            					"mark" : "0x201"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["028_snat_ipv4_all_weight_nomasq"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"source-addr" : "192.168.0.101",
            			"mode" : "snat",
            			"protocol" : "all",
            			"scheduler" : "weight",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"mark" : "0x200",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"mark" : "0x201",
            					"state" : "up"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["029_dnat_ipv4_tcp_udp_multifarm_hash_params"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "80",
            			"mode" : "dnat",
            			"protocol" : "tcp",
            			"scheduler" : "hash",
            			"sched-param" : "dstip",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				}
            			]
            		},
            		{
            			"name" : "lb02",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "53",
            			"mode" : "dnat",
            			"protocol" : "udp",
            			"scheduler" : "hash",
            			"sched-param" : "srcip srcport srcmac",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["040_snat_ipv4_tcp_weight_bck_estconnlimit"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "80",
            			"mode" : "snat",
            			"protocol" : "tcp",
            			"scheduler" : "weight",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"est-connlimit" : "1",
            					"weight" : "1",
            					"mark" : "0x0000001",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.20",
            					"est-connlimit" : "2",
            					"weight" : "2",
            					"mark" : "0x0000002",
            					"priority" : "1",
            					"state" : "up"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["042_farm_backend_policies_logprefix"] = """
            {
            	"policies" : [
            		{
            			"name" : "black001",
            			"type" : "blacklist",
            			"timeout" : "5",
            			"log-prefix" : "[TYPE,FNAME,PNAME]",
            			"priority" : "2",
            			"elements" : [
            				{
            					"data" : "192.168.200.100"
            				},
            				{
            					"data" : "192.168.40.100/24"
            				}
            			]
            		}
            	],
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "127.0.0.1",
            			"virtual-ports" : "80",
            			"mode" : "snat",
            			"protocol" : "tcp",
            			"scheduler" : "weight",
            			"log" : "input",
            			"log-prefix" : "[FNAME,TYPE]",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"mark" : "0x001",
            					"est-connlimit" : "20",
            					"est-connlimit-log-prefix" : "[KNAME,bck,FNAME,BNAME]",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"mark" : "0x002",
            					"est-connlimit" : "20",
            					"est-connlimit-log-prefix" : "[KNAME,bck,FNAME,BNAME]",
            					"state" : "up"
            				}
            			],
            			"policies" : [
            				{
            					"name" : "black001"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["046_snat_ipv4_tcp_weight_static_sessions_srcip_srcport"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "80",
            			"mode" : "snat",
            			"protocol" : "tcp",
            			"scheduler" : "weight",
            			"persistence" : "srcip srcport",
            			"persist-ttl" : "50",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"port" : "10",
            					"weight" : "5",
            					"mark" : "0x0000001",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"port" : "20",
            					"weight" : "5",
            					"mark" : "0x0000002",
            					"priority" : "1",
            					"state" : "up"
            				}
            			],
            			"sessions" : [
            				{
            					"client" : "192.168.44.4 . 95",
            					"backend" : "bck0"
            				},
            				{
            					"client" : "192.168.44.4 . 96",
            					"backend" : "bck1"
            				},
            				{
            					"client" : "192.168.44.4 . 97",
            					"backend" : "bck1"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["048_snat_ipv4_tcp_weight_flowoffload"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "127.0.0.1",
            			"virtual-ports" : "80",
            			"mode" : "snat",
            			"protocol" : "tcp",
            			"scheduler" : "weight",
            			"flow-offload" : "on",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"port" : "10",
            					"weight" : "5",
            					"mark" : "0x0000001",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"port" : "20",
            					"weight" : "5",
            					"mark" : "0x0000002",
            					"priority" : "1",
            					"state" : "up"
            				}
            			],
            			"oface" : "lo"
            		}
            	]
            }
            """ + "\n",
        ["053_empty_farms"] = """
            { "farms": [] }
            """ + "\n",
        ["054_dnat_ipv4_all_sip_ports"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "",
            			"mode" : "dnat",
            			"protocol" : "udp",
            			"scheduler" : "rr",
            			"helper" : "sip",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["061_snat_ipv4_tcp_weight_tcpstrict_with_logrtlimit"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "80",
            			"mode" : "snat",
            			"protocol" : "tcp",
            			"scheduler" : "weight",
            			"log-rtlimit": "10",
            			"tcp-strict" : "on",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				}
            			]
            		}
            	]
            }
            """ + "\n",
        ["066_dsr_ipv4_tcp_hash_persistence_srcip"] = """
            {
            	"farms" : [
            		{
            			"name" : "lb01",
            			"family" : "ipv4",
            			"virtual-addr" : "192.168.0.100",
            			"virtual-ports" : "80",
            			"mode" : "dsr",
            			"protocol" : "tcp",
            			"scheduler" : "hash",
            			"persistence" : "srcip",
            			"state" : "up",
            			"backends" : [
            				{
            					"name" : "bck0",
            					"ip-addr" : "192.168.0.10",
            					"ether-addr" : "02:02:02:02:02:02",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				},
            				{
            					"name" : "bck1",
            					"ip-addr" : "192.168.0.11",
            					"ether-addr" : "03:03:03:03:03:03",
            					"weight" : "5",
            					"priority" : "1",
            					"state" : "up"
            				}
            			],
            			"ether-addr" : "01:01:01:01:01:01",
            			"iface" : "lo",
            			"oface" : "lo",
            			"ether-addr" : "01:01:01:01:01:01"
            		}
            	]
            }
            """ + "\n",
    };
}
