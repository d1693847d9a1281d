#!/usr/bin/env python3
"""Random library cases (mutated JSON and msgpack, random tables, struct formats)."""
# Usage: fuzz_cases.py SEED COUNT > file.cases; then gen_reference.py PORT file.cases
# records Redis results and LIBS_CASES=file.cases cargo test -p scripting
# replay_file_from_env -- --ignored replays them.
import random, sys, json
random.seed(int(sys.argv[1]))
def lua_str(b):
    return "'" + ''.join('\\%d' % c for c in b) + "'"
valid = [b'{"a":[1,2,{"b":null}],"c":"d\\u00e9"}', b'[1.5e10,-0,true,false,"x\\ny"]', b'{"k":{"k":{"k":[[],{}]}}}', b'"\\ud83d\\ude00"', b'[0x10, inf, nan, -Infinity]', b'  [ 1 , 2 ]  ', b'123.456e-7']
cases=[]
for _ in range(int(sys.argv[2])):
    r=random.random()
    if r<0.35:
        b=bytearray(random.choice(valid))
        for _ in range(random.randint(1,3)):
            op=random.random()
            if op<0.4 and b: b[random.randrange(len(b))]=random.choice(b'{}[],:"\\-+0123456789.eExabnutrfl \t\n\x00\xff')
            elif op<0.7: b.insert(random.randrange(len(b)+1), random.choice(b'{}[],:"\\-+0123456789.eExu '))
            elif b: del b[random.randrange(len(b)):random.randrange(len(b))+random.randint(1,5)]
        cases.append("cjson.decode(%s)" % lua_str(bytes(b)))
    elif r<0.55:
        def val(d):
            k=random.random()
            if d>3 or k<0.4:
                return random.choice(['1','-2.5','1e300','0.1','1/3','2^53','-0.0','"s"',"'\\0\\127\\200'",'true','false','cjson.null','nil','123456789012345678'])
            if k<0.7:
                return '{'+', '.join(val(d+1) for _ in range(random.randint(0,4)))+'}'
            items=[]
            for _ in range(random.randint(0,4)):
                key=random.choice(['a','b','[1]','[2]','[3]','[7]','[12]','[0]','[-1]','[1.5]','[20]',"['1']"])
                if not key.startswith('['): key=key
                items.append('%s = %s' % (key, val(d+1)))
            return '{'+', '.join(items)+'}'
        cases.append("cjson.encode(%s)" % val(0))
    elif r<0.8:
        b=bytearray(random.randbytes(random.randint(0,12)))
        if random.random()<0.5:
            b=bytearray(random.choice([b'\x93\x01\xa1a\xc0', b'\x82\xa1a\x01\xa1b\x92\xc2\xc3', b'\xcb\x3f\xf8\0\0\0\0\0\0', b'\xdc\x00\x02\xd0\x80\xcf\xff\xff\xff\xff\xff\xff\xff\xff']))
            for _ in range(random.randint(0,2)):
                if b: b[random.randrange(len(b))]=random.randrange(256)
        fn=random.choice(['cmsgpack.unpack(%s)','cmsgpack.unpack_one(%s, %d)','cmsgpack.unpack_limit(%s, %d, %d)'])
        if fn.count('%')==1: cases.append(fn % lua_str(bytes(b)))
        elif fn.count('%')==2: cases.append(fn % (lua_str(bytes(b)), random.randint(-1,6)))
        else: cases.append(fn % (lua_str(bytes(b)), random.randint(-1,4), random.randint(-1,6)))
    else:
        fmt=''.join(random.choice(['b','B','h','H','l','L','T','i','I','i3','I7','i9','c','c2','c0','s','x','f','d','<','>','!','!2','!4',' ','z','i33']) for _ in range(random.randint(1,5)))
        data=random.randbytes(random.randint(0,20))
        if random.random()<0.5:
            cases.append("struct.unpack(%s, %s%s)" % (lua_str(fmt.encode()), lua_str(data), (', %d' % random.randint(-1,5)) if random.random()<0.3 else ''))
        elif random.random()<0.5:
            args=', '.join(random.choice(['1','-1','255','65536','-2^40','1.5','"ab"','"abcdef"','2^64','0/0']) for _ in range(random.randint(0,5)))
            cases.append("struct.pack(%s%s)" % (lua_str(fmt.encode()), (', '+args) if args else ''))
        else:
            cases.append("struct.size(%s)" % lua_str(fmt.encode()))
print("\n".join(cases))
