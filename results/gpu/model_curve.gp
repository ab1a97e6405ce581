# convpt bench: throughput, memory and speedup against input length, one line per architecture.
# Regenerate the image: gnuplot <this file>
set terminal pngcairo noenhanced size 1400,1000 font ',11'
set output 'bench.png'
$transformer << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 33551.6 490908 5046.11 1
1024 71289.3 982900 7515 1
2048 80011.4 814140 12923.6 1
4096 63832.6 596652 25522.5 1
8192 36104.1 354319 65745.8 1
16384 NaN 195803 NaN NaN
EOD
$lightconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 29099.7 868794 4975.06 0.867311
1024 53220.3 1.01369e+06 7205.93 0.74654
2048 116224 1.12173e+06 11727.6 1.4526
4096 151786 1.19045e+06 20776 2.37787
8192 235374 1.24628e+06 38895 6.51932
16384 295411 1.27849e+06 75121.9 NaN
EOD
$dynamicconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 22862.5 438568 7444.48 0.681413
1024 44852.7 496508 11198.8 0.629165
2048 86610.9 523638 18736.1 1.08248
4096 104456 538613 33842.9 1.63641
8192 137954 551543 64045.2 3.82099
16384 164400 558072 124465 NaN
EOD
$dilatedconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
512 23688 668972 4976.85 0.706018
1024 49033 963496 7207.71 0.687802
2048 117126 1.11731e+06 11729.4 1.46387
4096 148214 1.17821e+06 20777.8 2.32191
8192 238938 1.23878e+06 38896.8 6.61804
16384 308237 1.26912e+06 75123.7 NaN
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
