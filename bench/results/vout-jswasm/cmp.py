import sys
def load(f):
    d={}
    for l in open(f):
        p=l.rstrip("\n").split("\t")
        if len(p)==4: d[p[0]]=p[1:]
    return d
a=load(sys.argv[1]); b=load(sys.argv[2])
common=[k for k in a if k in b]
same=diff=looped=err=0
bad=[]
for k in common:
    ja,wa,_=a[k]; jb,wb,lb=b[k]
    if lb=="looped": looped+=1; continue
    for x,y,n in ((ja,jb,"js"),(wa,wb,"wasm")):
        if x.startswith("ERR") or y.startswith("ERR"): err+=1
        if x==y: same+=1
        else: diff+=1; bad.append((k,n,x,y))
print(f"programs compared {len(common)}; sources identical {same}, different {diff} (of which errors {err}); looped programs (expected to change) {looped}")
for x in bad[:10]: print(x)
