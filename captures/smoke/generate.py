import struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b)); 
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def ip4(a): return bytes(int(x) for x in a.split('.'))
def tcp(smac,dmac,src,dst,sp,dp,flags):
    th=struct.pack('!HHIIBBHHH',sp,dp,1,0,5<<4,flags,1000,0,0)
    ph=ip4(src)+ip4(dst)+struct.pack('!BBH',0,6,len(th))
    th=th[:16]+struct.pack('!H',csum(ph+th))+th[18:]
    ih=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(th),1,0,64,6,0,ip4(src),ip4(dst))
    ih=ih[:10]+struct.pack('!H',csum(ih))+ih[12:]
    return bytes.fromhex(dmac.replace(':',''))+bytes.fromhex(smac.replace(':',''))+b'\x08\x00'+ih+th
def arp(smac,sip,dmac,dip,op=2):
    return bytes.fromhex(dmac.replace(':',''))+bytes.fromhex(smac.replace(':',''))+b'\x08\x06'+struct.pack('!HHBBH',1,0x800,6,4,op)+bytes.fromhex(smac.replace(':',''))+ip4(sip)+bytes.fromhex(dmac.replace(':',''))+ip4(dip)
LB='02:aa:00:00:00:fe'; C='02:aa:00:00:00:01'; B0='02:aa:00:00:00:10'; B1='02:aa:00:00:00:11'
fr=[(0.0,arp(C,'192.168.101.1','ff:ff:ff:ff:ff:ff','192.168.101.250',1)),
    (0.001,tcp(C,LB,'192.168.101.1','192.168.101.250',34846,443,0x02)),
    (0.002,arp(B0,'192.168.1.10',LB,'192.168.101.250')),(0.002,arp(B1,'192.168.1.11',LB,'192.168.101.250')),
    (0.003,tcp(B0,LB,'192.168.1.10','192.168.101.250',443,34846,0x12)),(0.003,tcp(B1,LB,'192.168.1.11','192.168.101.250',443,34846,0x12)),
    (0.004,tcp(C,LB,'192.168.101.1','192.168.101.250',34846,443,0x10)),
    (0.005,tcp(C,LB,'192.168.101.1','192.168.101.250',34847,80,0x02))]
with open('in.pcap','wb') as f:
    f.write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))
    for t,b in fr:
        ts=1700000000+t; f.write(struct.pack('<IIII',int(ts),int(round((ts%1)*1e6)),len(b),len(b))+b)
open('farms.json','w').write('{"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"weight","backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}')
