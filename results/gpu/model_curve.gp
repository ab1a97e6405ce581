# convpt bench: throughput, memory and speedup against input length, one line per architecture.
# Regenerate the image: gnuplot <this file>
set terminal pngcairo noenhanced size 1400,1000 font ',11'
set output 'bench.png'
$transformer << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 30212.6 333875 7989.49 1
1024 43740.2 228873 18232 1
2048 42160.9 124956 54360.6 1
4096 NaN 65017.8 NaN NaN
8192 NaN 31852.9 NaN NaN
16384 NaN NaN NaN NaN
EOD
$lightconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 23469.7 715290 4975.06 0.776818
1024 51625.3 1.00645e+06 7205.93 1.18027
2048 111612 1.12744e+06 11727.6 2.64729
4096 156214 1.1785e+06 20776 NaN
8192 239846 1.22841e+06 38895 NaN
16384 303707 1.26092e+06 75121.9 NaN
EOD
$dynamicconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 25609.5 444502 7444.48 0.847644
1024 47353.6 499450 11198.8 1.08261
2048 78971 529947 18736.1 1.87309
4096 111406 549269 33842.9 NaN
8192 142745 565704 64045.2 NaN
16384 165367 572440 124465 NaN
EOD
$dilatedconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 29042.5 791477 4976.85 0.96127
1024 52722.3 1.01408e+06 7207.71 1.20535
2048 89636.3 1.11586e+06 11729.4 2.12605
4096 161616 1.16141e+06 20777.8 NaN
8192 225684 1.21843e+06 38896.8 NaN
16384 290443 1.24795e+06 75123.7 NaN
EOD
set multiplot layout 2,2 title 'convpt bench: d_model 768, d_ff 3072, 12+12 layers, vocab 32128; batch 8, target 128, decode 32 tokens; bf16 (pretrain.precision); device cuda, threads 16'
set logscale x 2
set grid
set key top right
set xlabel 'input length (tokens)'
set logscale y
set title 'training step (forward, backward, optimizer)'
set ylabel 'input tokens/s'
plot $transformer using 1:2 with linespoints lw 2 pt 7 lc rgb '#000000' title 'transformer', \
     $lightconv using 1:2 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:2 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:2 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv'
set logscale y
set title 'encoder forward'
set ylabel 'input tokens/s'
plot $transformer using 1:3 with linespoints lw 2 pt 7 lc rgb '#000000' title 'transformer', \
     $lightconv using 1:3 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:3 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:3 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv'
set logscale y
set title 'peak memory (whole cell: training dominates)'
set ylabel 'MiB'
plot $transformer using 1:4 with linespoints lw 2 pt 7 lc rgb '#000000' title 'transformer', \
     $lightconv using 1:4 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:4 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:4 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv'
unset logscale y
set title 'training speed relative to the transformer'
set ylabel 'transformer time / own time'
plot $lightconv using 1:5 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:5 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:5 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv', \
     1 with lines dt 2 lc rgb '#808080' notitle
unset multiplot
